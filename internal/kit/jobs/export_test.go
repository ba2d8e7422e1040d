package jobs

import "database/sql"

// Test knobs on Options, for the tests in package jobs_test.

// WithoutLeaderElection keeps the client from becoming leader, like a
// replica that lost every election.
func WithoutLeaderElection(o Options) Options { o.leaderElectionDisabled = true; return o }

// OwnHandle is the handle a client opened on the store's SQLite file.
func OwnHandle(c *Client) *sql.DB { return c.own }

// WithTestOnly sets river's TestOnly: a new leader starts its periodic
// jobs, rescuer and scheduler at once.
func WithTestOnly(o Options) Options { o.testOnly = true; return o }
