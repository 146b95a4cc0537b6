// Package backfill runs named data backfills on a live claudemesh
// database: batched, resumable, idempotent and throttled.
//
// Invariants:
//
//   - A batch is one transaction that writes its rows and the job's cursor
//     together (table mesh.meshctl_backfill): a crash, a kill or Ctrl-C
//     leaves either the whole batch with its cursor or neither, and a rerun
//     continues from the stored cursor.
//   - Batches walk the job's primary key (keyset), never OFFSET; every
//     write is idempotent (ON CONFLICT DO NOTHING or a re-check under a
//     lock), so --restart and two runs at once are safe. Two runs of one
//     job serialise on the job's state row (SELECT ... FOR UPDATE) and
//     share its cursor.
//   - Every batch runs under lock_timeout and statement_timeout; its size
//     adapts toward a target duration so that no batch holds its locks
//     long. A stop request (context cancelled) takes effect between
//     batches, never inside one.
//   - A dry run reads only: it counts what would be written and keeps its
//     cursor in memory.
//   - The package never prints: progress reaches the caller as Events,
//     the same convention as package migrate.
package backfill
