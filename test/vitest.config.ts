import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

/**
 * The suites that touch keyed state, run a second time on the RocksDB backend (project `rocksdb`,
 * selected by EDDY_TEST_STATE_BACKEND, see test/support/state-backend.ts): windows and keyed operators
 * through the operator harness, the bundled jobs end to end, failure recovery and the SIGKILL tests.
 */
const ROCKSDB_SUITES = [
  'test/windows/window-operator.test.ts',
  'test/windows/window-operator-model.test.ts',
  'test/operators/*.test.ts',
  'test/jobs/jobs.e2e.test.ts',
  'test/checkpoint/failure-recovery*.test.ts',
  'test/checkpoint/failing-sink-recovery.test.ts',
  'test/runtime/checkpointing.test.ts',
  'test/recovery/*.test.ts',
];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    exclude: ['**/node_modules/**', 'test/bench/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Plans one shared Kafka broker; it starts only when a test file asks for it (test/support/kafka-broker.ts).
    globalSetup: ['test/support/kafka-broker.ts'],
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'memory', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'rocksdb', include: ROCKSDB_SUITES, env: { EDDY_TEST_STATE_BACKEND: 'rocksdb' } } },
    ],
  },
});
