package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Twilio sends SMS through an HTTP provider with Twilio's Messages API:
// POST {base}/2010-04-01/Accounts/{sid}/Messages.json, a form of To, From
// and Body, basic auth with the account sid and auth token.
type Twilio struct {
	endpoint    string
	sid, token  string
	from        string
	http        *http.Client
	description string // the provider's host, for errors
}

// NewTwilio sends from number from through the provider at base (e.g.
// https://api.twilio.com). client nil is one with a timeout.
func NewTwilio(base, sid, token, from string, client *http.Client) (*Twilio, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("not an http(s) URL")
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Twilio{endpoint: strings.TrimRight(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(sid) + "/Messages.json",
		sid: sid, token: token, from: from, http: client, description: u.Host}, nil
}

// SendSMS sends m; it returns once the provider accepted it.
func (t *Twilio) SendSMS(ctx context.Context, m SMS) error {
	form := url.Values{"To": {m.To}, "From": {t.from}, "Body": {m.Body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("sms %s: %w", t.description, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.sid, t.token)
	res, err := t.http.Do(req)
	if err != nil {
		// url.Error names the URL, which holds the account sid but no
		// personal data.
		return fmt.Errorf("sms %s: %w", t.description, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 == 2 {
		return nil
	}
	// Twilio's error document: {code, message, more_info, status}. Its
	// message may quote the number, so only the code is kept.
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(body, &e)
	if res.StatusCode == http.StatusBadRequest {
		// A number that is not one, or not reachable by SMS (21211,
		// 21614): no retry sends it.
		return fmt.Errorf("sms %s: %w: status %d, error code %d", t.description, ErrRefused, res.StatusCode, e.Code)
	}
	return fmt.Errorf("sms %s: status %d, error code %d", t.description, res.StatusCode, e.Code)
}
