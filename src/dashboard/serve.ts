/**
 * `celerity dashboard` as a running server: the REST API (startApiServer) with the dashboard's stream, charts,
 * schedules routes and pages added to the same instance, so one authentication, one error handler and one OpenAPI
 * document serve both.
 */
import { startApiServer, type ApiServer, type ApiServerOptions } from '../api/serve.js';
import { registerDashboard, type DashboardOptions } from './register.js';

export interface DashboardServerOptions extends ApiServerOptions {
  dashboard?: DashboardOptions;
}

/** As startApiServer, with the dashboard's routes and pages. */
export function startDashboardServer(options: DashboardServerOptions): Promise<ApiServer> {
  return startApiServer({
    ...options,
    extend: (api, ctx) => {
      registerDashboard(api, ctx, options.dashboard);
    },
  });
}
