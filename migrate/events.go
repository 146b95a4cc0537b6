package migrate

import "time"

// EventKind names a progress event.
type EventKind string

const (
	EventLockWait      EventKind = "lock-wait"      // the lock is held by someone else; Holder says who
	EventLockAcquired  EventKind = "lock-acquired"  // Duration is how long it took
	EventFileStart     EventKind = "file-start"     // File is about to run
	EventFileDone      EventKind = "file-done"      // File committed; Duration is its run time
	EventStatementDone EventKind = "statement-done" // a statement of a non-transactional file finished
	EventRetry         EventKind = "retry"          // lock_not_available; retrying after Duration
	EventWarning       EventKind = "warning"        // Message explains
	// EventStatementProgress: a no-transaction statement has run for a
	// while (Duration); Progress says how far it got and who blocks it.
	// It comes from a watching goroutine while Up waits for the statement;
	// no other event is emitted meanwhile.
	EventStatementProgress EventKind = "statement-progress"
)

// Event is what the runner reports while it works. The library never
// prints; callers decide what to show (see WithProgress).
type Event struct {
	Kind          EventKind
	File          string
	NoTransaction bool
	Statement     int
	Duration      time.Duration
	Holder        *LockHolder
	Message       string
	// Index is a file's 1-based place among the Total files this run of
	// Up applies (file-start and file-done events only; 0 otherwise).
	Index, Total int
	Progress     *StatementProgress // statement-progress events only
}
