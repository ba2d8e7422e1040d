// Package notification is the notification service: it tells people what
// they need to know of the platform's events, and nothing more. Patients
// hear that their case was submitted, prepared, taken on, that their
// opinion or an answer is ready, of payments and refunds, and receive
// auth's sign-in codes and reset tokens; professionals hear of matching
// cases, approaching deadlines, expiries, reviews and payouts; admins of
// escalations, orphaned cases, licences to review and dead letters.
//
// Each event becomes notices (domain.Notices) written in the consumer's
// transaction: an in-app notice, and a queued delivery by email or SMS,
// so that a provider outage loses nothing. The delivery worker sends
// after commit (deliver.go): it looks the addressee up at that moment
// (patient-identity, professional-identity, NOTIFICATION_ADMIN_EMAILS) —
// so an erased person gets nothing and no address is kept — chooses the
// channel by their preferences, renders the message in their language,
// and retries with exponential backoff for hours before a delivery is
// DEAD, which an admin lists and replays. Secrets (SendSecret, rpc.go)
// are sent at once, and the log keeps only their purpose and outcome.
// Messages carry no health data: no diagnosis, question or case title,
// no name but the addressee's; they say something is ready and link to
// it (NOTIFICATION_APP_URL).
//
// Without SMTP or SMS settings, email goes to DATA_DIR/mailbox as .eml
// files and SMS to DATA_DIR/sms, which patient.erased empties of the
// patient's messages.
//
// Read it top-down: module.go, this file (settings, how it is built),
// events.go (what it consumes: the routing read model and the notices),
// deliver.go (the worker, addressees and channels), http.go (the in-app
// list and the admins' delivery log), rpc.go (SendSecret), domain/ (who
// is told what, the templates, channel choice and retries), channel/
// (SMTP, Twilio-shaped SMS, the folders), store/.
package notification

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/mail"
	"path/filepath"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/gen/platform/v1/platformv1connect"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/notification/channel"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
	"github.com/secondopinion/platform/internal/services/platform/notification/store"
)

// Config is what the service is configured with: the env-tagged fields are
// its settings, the others hooks for tests.
type Config struct {
	SMTPURL       string        `env:"NOTIFICATION_SMTP_URL" secret:"url" doc:"the SMTP server email goes through: smtp://[user:password@]host[:port] (587, STARTTLS when offered and before any credentials) or smtps://… (465). Empty: .eml files in DATA_DIR/mailbox"`
	MailFrom      string        `env:"NOTIFICATION_MAIL_FROM" default:"Second Opinion <no-reply@secondopinion.local>" doc:"the From of every email"`
	SMSURL        string        `env:"NOTIFICATION_SMS_URL" doc:"the SMS provider's API base, Twilio's shape (https://api.twilio.com). Empty: text files in DATA_DIR/sms"`
	SMSAccountSID string        `env:"NOTIFICATION_SMS_ACCOUNT_SID" doc:"the provider account's SID; required with NOTIFICATION_SMS_URL"`
	SMSAuthToken  string        `env:"NOTIFICATION_SMS_AUTH_TOKEN" secret:"true" doc:"the provider account's auth token; required with NOTIFICATION_SMS_URL"`
	SMSFrom       string        `env:"NOTIFICATION_SMS_FROM" default:"+15005550006" doc:"the number (E.164) or sender id SMS come from"`
	AppURL        string        `env:"NOTIFICATION_APP_URL" default:"http://localhost:8080" doc:"the base of the links in messages: the app where patients, professionals and admins sign in"`
	AdminEmails   []string      `env:"NOTIFICATION_ADMIN_EMAILS" doc:"who gets admins' notices by email, comma-separated; every admin sees them in-app regardless"`
	RetryBase     time.Duration `env:"NOTIFICATION_RETRY_BASE" default:"30s" doc:"the wait before a failed delivery's first retry; each next wait doubles"`
	RetryMaxDelay time.Duration `env:"NOTIFICATION_RETRY_MAX_DELAY" default:"30m" doc:"the longest wait between two attempts of a delivery"`
	RetryFor      time.Duration `env:"NOTIFICATION_RETRY_FOR" default:"24h" doc:"how long a delivery is retried before it is DEAD (an admin may replay it)"`
	PollInterval  time.Duration `env:"NOTIFICATION_POLL_INTERVAL" default:"5s" doc:"how often the delivery worker looks for due deliveries (new ones wake it at once)"`

	// Patients and Professionals stand in for patient-identity and
	// professional-identity (tests); nil ones are reached as peers.
	Patients      Patients
	Professionals Professionals
	// Mailer and Texter stand in for the configured channels (tests).
	Mailer channel.Mailer
	Texter channel.Texter
	// RootCAs verifies the SMTP server's certificate; nil is the
	// system's. HTTP reaches the SMS provider; nil has a timeout.
	RootCAs *x509.CertPool
	HTTP    *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks what the fields' own forms do not.
func (c *Config) Validate() error {
	if c.SMTPURL != "" {
		if _, err := channel.NewSMTP(c.SMTPURL, c.MailFrom, nil); err != nil {
			return config.Errorf("NOTIFICATION_SMTP_URL", "%v", err)
		}
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return config.Errorf("NOTIFICATION_MAIL_FROM", "not an address: %v", err)
	}
	if c.SMSURL != "" {
		if c.SMSAccountSID == "" || c.SMSAuthToken == "" || c.SMSFrom == "" {
			return config.Errorf("NOTIFICATION_SMS_ACCOUNT_SID, NOTIFICATION_SMS_AUTH_TOKEN, NOTIFICATION_SMS_FROM",
				"are required with NOTIFICATION_SMS_URL")
		}
		if err := config.CheckURL(c.SMSURL, []string{"http", "https"}); err != nil {
			return config.Errorf("NOTIFICATION_SMS_URL", "%v", err)
		}
	}
	if err := config.CheckURL(c.AppURL, []string{"http", "https"}); err != nil {
		return config.Errorf("NOTIFICATION_APP_URL", "%v", err)
	}
	for _, a := range c.AdminEmails {
		if _, err := mail.ParseAddress(a); err != nil {
			return config.Errorf("NOTIFICATION_ADMIN_EMAILS", "%q is not an address", a)
		}
	}
	if c.RetryBase <= 0 || c.RetryMaxDelay < c.RetryBase || c.RetryFor <= 0 || c.PollInterval <= 0 {
		return config.Errorf("NOTIFICATION_RETRY_BASE, NOTIFICATION_RETRY_MAX_DELAY, NOTIFICATION_RETRY_FOR, NOTIFICATION_POLL_INTERVAL",
			"must be positive, the maximum delay at least the base")
	}
	return nil
}

// withDefaults fills what a Config not read by config.Load leaves zero.
func withDefaults(c Config) Config {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.MailFrom, "Second Opinion <no-reply@secondopinion.local>")
	def(&c.SMSFrom, "+15005550006")
	def(&c.AppURL, "http://localhost:8080")
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.RetryBase, 30*time.Second)
	dur(&c.RetryMaxDelay, 30*time.Minute)
	dur(&c.RetryFor, 24*time.Hour)
	dur(&c.PollInterval, 5*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Service is a running notification target.
type Service struct {
	*service.Base
	cfg           Config
	store         *store.Store
	patients      Patients
	professionals Professionals
	mailer        channel.Mailer
	texter        channel.Texter
	retry         domain.Retry
	// folders are the embedded mode's mailbox and sms folders, which an
	// erasure empties of the patient's messages.
	folders []string
	kick    chan struct{} // wakes the delivery worker
}

// Migrate creates or upgrades the service's tables, its outbox, inbox
// and journal.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over its migrated store and the bus.
func New(cfg Config, deps service.Deps) (*Service, error) {
	cfg = withDefaults(cfg)
	cfg.AdminEmails = trimmed(cfg.AdminEmails)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB), patients: cfg.Patients, professionals: cfg.Professionals,
		mailer: cfg.Mailer, texter: cfg.Texter, kick: make(chan struct{}, 1),
		retry: domain.Retry{Base: cfg.RetryBase, Max: cfg.RetryMaxDelay, For: cfg.RetryFor}}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s).Journaled()); err != nil {
		return nil, err
	}
	if err := s.channels(deps.DataDir); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if err := s.peers(); err != nil {
		return nil, err
	}
	s.routes(s.API)
	path, h := platformv1connect.NewNotificationServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(platformv1connect.NotificationServiceName, path, h)
	s.Go(s.deliveryLoop)
	return s, nil
}

// channels sets up the email and SMS senders the configuration names,
// else the folders under dataDir.
func (s *Service) channels(dataDir string) error {
	c := s.cfg
	if s.mailer == nil && c.SMTPURL != "" {
		m, err := channel.NewSMTP(c.SMTPURL, c.MailFrom, c.RootCAs)
		if err != nil {
			return err
		}
		s.mailer = m
	}
	if s.texter == nil && c.SMSURL != "" {
		t, err := channel.NewTwilio(c.SMSURL, c.SMSAccountSID, c.SMSAuthToken, c.SMSFrom, c.HTTP)
		if err != nil {
			return err
		}
		s.texter = t
	}
	if s.mailer == nil || s.texter == nil {
		if dataDir == "" {
			return fmt.Errorf("NOTIFICATION_SMTP_URL and NOTIFICATION_SMS_URL, or a data directory for the mailbox, are required")
		}
	}
	if s.mailer == nil {
		dir := filepath.Join(dataDir, "mailbox")
		s.mailer, s.folders = channel.Mailbox{Dir: dir, From: c.MailFrom, Now: c.Now}, append(s.folders, dir)
	}
	if s.texter == nil {
		dir := filepath.Join(dataDir, "sms")
		s.texter, s.folders = channel.SMSFolder{Dir: dir, From: c.SMSFrom, Now: c.Now}, append(s.folders, dir)
	}
	return nil
}

// peers reaches patient-identity and professional-identity, unless
// stand-ins were given. Neither is a readiness check: without them
// deliveries wait and retry, and nothing else stops.
func (s *Service) peers() error {
	if s.patients == nil {
		p, err := s.Peer(patientidentity.Target)
		if err != nil {
			return err
		}
		s.patients = patientidentity.New(p)
	}
	if s.professionals == nil {
		p, err := s.Peer(professionalidentity.Target)
		if err != nil {
			return err
		}
		s.professionals = professionalidentity.New(p)
	}
	return nil
}

func trimmed(list []string) []string {
	var out []string
	for _, a := range list {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Rebuild empties the routing read model in db (notification's store)
// and replays it from the journal; the notices and deliveries already
// written stay as they are, and none is written again. progress, when
// not nil, is told after each batch.
func Rebuild(ctx context.Context, db *sqldb.DB, progress func(done, total int64)) error {
	st := store.New(db)
	if err := st.ClearCases(ctx); err != nil {
		return err
	}
	return outbox.ReplayJournal(ctx, db, routing.Bind(&router{store: st}), progress)
}

// Rebuild rebuilds the service's own routing read model (see the function
// Rebuild), for `secondopinion notification rebuild`.
func (s *Service) Rebuild(ctx context.Context, progress func(done, total int64)) error {
	return Rebuild(ctx, s.DB, progress)
}
