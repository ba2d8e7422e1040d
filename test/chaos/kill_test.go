package chaos

import (
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

const (
	adminEmail    = "admin@example.org"
	adminPassword = "an admin's long passphrase"
)

// The journey runs under load; the platform is killed with SIGKILL in the
// middle of it and started again on the same stores while the patients
// keep retrying. The ledger then finds every acknowledged case and
// submission, one case per key, and every event the writes owed
// delivered once: on SQLite with the in-process bus, and on PostgreSQL
// with NATS JetStream.
func TestKillUnderJourneyLoad(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		name := string(e)
		if e == sqldb.Postgres {
			name = "postgres+nats"
		}
		t.Run(name, func(t *testing.T) {
			env := platformEnv(t)
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = testkit.FreshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
				env["NATS_URL"] = startNATS(t).url
			}
			kills := 1
			if long {
				kills = 3
			}
			proc := launch(t, env)
			p := &platform{}
			p.set(proc.base)
			l, admin, pro := prepare(t, proc.base)

			stop := l.load(t, p)
			for range kills {
				time.Sleep(phase(2*time.Second, 10*time.Second))
				proc.kill(t)
				proc = launch(t, env)
				p.set(proc.base)
			}
			time.Sleep(phase(2*time.Second, 10*time.Second))
			stop()
			l.check(t, proc.base, admin, pro)
		})
	}
}

// platformEnv is the environment of a platform process with its own data
// folder and a first admin. A submitted case passes the AI: an attempt
// the kill interrupts is held by its lease (AI_ATTEMPT_TIMEOUT, 15 min by
// default) until the sweep finds it stuck, so the lease here is seconds,
// for the ledger to find every case in the pool within its wait. Its
// cases skip the payment step (CASE_STEPS=ai): the loads submit cases,
// and the kills test what carries a case on from there; payments proves
// its own recovery from a crash between charge and record.
func platformEnv(t *testing.T) map[string]string {
	return map[string]string{"DATA_DIR": t.TempDir(), "AUTH_BCRYPT_COST": "4", "METRICS_LISTEN": "off", "CASE_STEPS": "ai",
		"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword,
		"AI_ATTEMPT_TIMEOUT": "5s", "AI_STUCK_AFTER": "1s", "AI_SWEEP_INTERVAL": "500ms", "AI_JOB_POLL": "200ms"}
}

// prepare signs up the load's patients and a credentialed professional
// whose pool shows the cases they submit; it returns the ledger, the
// admin's token and the professional.
func prepare(t *testing.T, base string) (*ledger, string, patient) {
	t.Helper()
	j := journey.Platform{Base: base}
	admin := j.Login(t, adminEmail, adminPassword)
	pro := j.RegisterProfessional(t)
	j.Credential(t, admin, pro, "JUNIOR")
	l := newLedger()
	l.signUpPatients(t, base)
	return l, admin, patient{pro.ID, pro.Token}
}
