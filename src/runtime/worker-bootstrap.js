// Worker thread bootstrap: plain JavaScript so that Node can start it without a loader. It registers
// tsx (TypeScript job modules and Eddy's own .ts sources load on Node 20), then runs the TS entry.
import { register } from 'tsx/esm/api';

register();
await import('./worker-entry.ts');
