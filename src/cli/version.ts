/** The package version, for the CLI's --version and banner. */
export { VERSION } from '../util/version.js';
