#!/usr/bin/env node
// Entry point of the `eddy` command: registers tsx so that TypeScript jobs (and Eddy's own sources)
// load on Node 20, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
