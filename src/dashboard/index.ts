/**
 * The dashboard's server side (`celerity dashboard`): the live stream, the chart series, the schedules routes and
 * the built pages, on top of the REST API.
 */
export { registerDashboard, defaultAssetsDir, type Dashboard, type DashboardOptions } from './register.js';
export { startDashboardServer, type DashboardServerOptions } from './serve.js';
export { StatsCollector, type StatsPoint, type StatsSeries, type StatsWindow, type StatsCollectorOptions } from './stats.js';
export { StreamHub, type StreamOptions, type TaskChange, type StreamWorker } from './stream.js';
export { CLIENT_ROUTES } from './static.js';
