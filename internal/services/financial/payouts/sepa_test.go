package payouts_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payouts"
)

// schema is the pain.001.001.09 schema the file must meet (testdata/README.md).
const schema = "testdata/pain.001.001.09.xsd"

// xmllint validates doc against the schema: nil when valid, else
// xmllint's complaint. A machine without xmllint fails the test: the
// check is the point (Debian's libxml2-utils has it).
func xmllint(t *testing.T, doc []byte) error {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatalf("xmllint is needed to validate the SEPA file (apt-get install libxml2-utils): %v", err)
	}
	path := filepath.Join(t.TempDir(), "sepa.xml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--schema", schema, path).CombinedOutput()
	if err != nil {
		return &lintError{string(out)}
	}
	return nil
}

type lintError struct{ out string }

func (e *lintError) Error() string { return e.out }

// The SEPA file of a batch is a pain.001.001.09 document that the
// schema accepts; a broken one it refuses. A professional without a payout
// account blocks the file, with a problem that says how many lack one.
func TestSEPAFile(t *testing.T) {
	testkit.ForEachEngine(t, payouts.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		a, b, r := uuid.NewString(), uuid.NewString(), uuid.NewString()
		h.approve(a, vocab.Senior, "", may(1))
		h.approve(a, vocab.Expert, "", may(2))
		h.approve(b, vocab.Junior, r, may(3))
		batch := decode[payouts.Batch](t, h.want(h.do("admin", "POST", "/api/v1/payouts", mayPeriod), 201, "batch"))
		sepa := "/api/v1/payouts/" + batch.ID + "/sepa"

		h.want(h.do("pro:"+a, "PUT", "/api/v1/professionals/"+a+"/payout-account",
			map[string]any{"holder": "Dr. Ada Lovelace", "iban": "FR14 2004 1010 0505 0001 3M02 606", "bic": "psstfrppxxx"}), 200, "a's account")
		res := h.want(h.do("admin", "GET", sepa, nil), http.StatusConflict, "SEPA with two accounts missing")
		if d, _ := res.body["detail"].(string); !strings.HasPrefix(d, "2 of the batch's 3 professionals have no payout account") ||
			!strings.Contains(d, b) || !strings.Contains(d, r) {
			t.Errorf("the problem does not say who is missing: %s", res.raw)
		}
		h.want(h.do("pro:"+b, "PUT", "/api/v1/professionals/"+b+"/payout-account",
			map[string]any{"holder": "Émile Zürcher-Ångström", "iban": "DE89370400440532013000"}), 200, "b's account")
		h.want(h.do("pro:"+r, "PUT", "/api/v1/professionals/"+r+"/payout-account",
			map[string]any{"holder": strings.Repeat("R", 70), "iban": "NL91ABNA0417164300", "bic": "ABNANL2A"}), 200, "r's account")

		res = h.want(h.do("admin", "GET", sepa, nil), 200, "SEPA")
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
			t.Errorf("content type %q", ct)
		}
		doc := res.raw
		if err := xmllint(t, doc); err != nil {
			t.Fatalf("the schema refuses the SEPA file: %v\n%s", err, doc)
		}
		msgID := strings.ReplaceAll(batch.ID, "-", "")
		for _, want := range []string{
			`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">`,
			"<MsgId>" + msgID + "</MsgId>", "<NbOfTxs>3</NbOfTxs>", "<CtrlSum>395.00</CtrlSum>", // 120 + 200 + 60 + 15
			"<CreDtTm>2031-06-10T12:00:00Z</CreDtTm>", "<Dt>2031-06-10</Dt>",
			"<IBAN>DE89370400440532013000</IBAN>", "<BICFI>COBADEFFXXX</BICFI>", "<Nm>Second Opinion GmbH</Nm>",
			`<InstdAmt Ccy="EUR">320.00</InstdAmt>`, `<InstdAmt Ccy="EUR">60.00</InstdAmt>`, `<InstdAmt Ccy="EUR">15.00</InstdAmt>`,
			"<IBAN>FR1420041010050500013M02606</IBAN>", "<BICFI>PSSTFRPPXXX</BICFI>", "<Nm>Dr. Ada Lovelace</Nm>",
			"<Nm>Émile Zürcher-Ångström</Nm>", "<Ustrd>Second Opinion payout 2031-05-01 to 2031-05-31</Ustrd>",
		} {
			if !bytes.Contains(doc, []byte(want)) {
				t.Errorf("the file lacks %s", want)
			}
		}
		// The schema is a real check: a document it should refuse, it refuses.
		for what, broken := range map[string][]byte{
			"no control sum":       bytes.Replace(doc, []byte("<CtrlSum>395.00</CtrlSum>"), nil, 1),
			"a renamed element":    bytes.ReplaceAll(doc, []byte("EndToEndId>"), []byte("EndToEndID>")),
			"three decimals":       bytes.Replace(doc, []byte(">60.00<"), []byte(">60.001<"), 1),
			"another service":      bytes.Replace(doc, []byte("<Cd>SEPA</Cd>"), []byte("<Cd>URGP</Cd>"), 1),
			"a malformed IBAN":     bytes.Replace(doc, []byte("<IBAN>NL91ABNA0417164300</IBAN>"), []byte("<IBAN>nl91 abna</IBAN>"), 1),
			"a name of 71 letters": bytes.Replace(doc, []byte("<Nm>Dr. Ada Lovelace</Nm>"), []byte("<Nm>"+strings.Repeat("x", 71)+"</Nm>"), 1),
		} {
			if bytes.Equal(broken, doc) {
				t.Fatalf("%s: the mutation changed nothing", what)
			}
			if err := xmllint(t, broken); err == nil {
				t.Errorf("the schema accepts a file with %s", what)
			}
		}
		h.want(h.do("pro:"+a, "GET", sepa, nil), 403, "a professional's SEPA")
		h.want(h.do("admin", "GET", "/api/v1/payouts/"+uuid.NewString()+"/sepa", nil), 404, "no such batch")
	})
}

// A batch in another currency than euros has no SEPA file.
func TestSEPAIsInEuros(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, payouts.Name))
	rates := map[string]any{"currency": "CHF", "rates": []map[string]any{
		{"level": "JUNIOR", "opinion": 7000, "reviewerFee": 0}, {"level": "SENIOR", "opinion": 13000, "reviewerFee": 0},
		{"level": "EXPERT", "opinion": 21000, "reviewerFee": 0}, {"level": "DISTINGUISHED", "opinion": 31000, "reviewerFee": 0}}}
	h.clock.set(may(1))
	h.want(h.do("admin", "PUT", "/api/v1/payouts/rates", rates), 200, "rates in francs")
	pro := uuid.NewString()
	h.approve(pro, vocab.Senior, "", may(2))
	h.clock.set(june10)
	batch := decode[payouts.Batch](t, h.want(h.do("admin", "POST", "/api/v1/payouts", mayPeriod), 201, "batch"))
	if batch.Currency != "CHF" || batch.Total != 13000 {
		t.Fatalf("batch %+v", batch)
	}
	h.want(h.do("pro:"+pro, "PUT", "/api/v1/professionals/"+pro+"/payout-account",
		map[string]any{"holder": "Heidi Muster", "iban": "CH9300762011623852957"}), 200, "account")
	h.want(h.do("admin", "GET", "/api/v1/payouts/"+batch.ID+"/sepa", nil), http.StatusConflict, "SEPA in francs")
	if csv := h.want(h.do("admin", "GET", "/api/v1/payouts/"+batch.ID+"/csv", nil), 200, "CSV"); !bytes.Contains(csv.raw, []byte(",130.00,CHF,")) {
		t.Errorf("CSV %s", csv.raw)
	}
}

// A payout account is the professional's own to set; its IBAN is checked,
// stored encrypted and shown masked.
func TestPayoutAccount(t *testing.T) {
	testkit.ForEachEngine(t, payouts.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		pro, other := uuid.NewString(), uuid.NewString()
		path := "/api/v1/professionals/" + pro + "/payout-account"
		h.want(h.do("pro:"+pro, "GET", path, nil), 404, "no account yet")
		body := map[string]any{"holder": "Grace Hopper", "iban": "de89 3704 0044 0532 0130 00", "bic": "COBADEFF"}
		for token, want := range map[string]int{"": 401, "patient": 403, "admin": 403, "pro:" + other: 404} {
			h.want(h.do(token, "PUT", path, body), want, "set as "+token)
		}
		for what, iban := range map[string]string{
			"a wrong check digit": "DE88370400440532013000", "two swapped digits": "DE89370400440532010300",
			"a wrong length": "DE8937040044053201300", "no such country": "ZZ89370400440532013000", "letters only": "DEXX",
		} {
			h.want(h.do("pro:"+pro, "PUT", path, map[string]any{"holder": "Grace Hopper", "iban": iban}), 422, what)
		}
		h.want(h.do("pro:"+pro, "PUT", path, map[string]any{"holder": "Grace Hopper", "iban": "DE89370400440532013000", "bic": "COBA"}), 422, "a short BIC")
		res := h.want(h.do("pro:"+pro, "PUT", path, body), 200, "set")
		acct := decode[payouts.PayoutAccount](t, res)
		if acct.IBAN != "DE89**************3000" || acct.BIC != "COBADEFF" || acct.ProfessionalID != pro {
			t.Errorf("account %+v", acct)
		}
		for token, want := range map[string]int{"pro:" + pro: 200, "admin": 200, "pro:" + other: 404, "patient": 403} {
			h.want(h.do(token, "GET", path, nil), want, "read as "+token)
		}
		if bytes.Contains(h.do("admin", "GET", path, nil).raw, []byte("Grace")) {
			t.Error("the holder is shown")
		}
		// At rest: neither the IBAN nor the holder in the clear, anywhere.
		if found := testkit.Search(t, db, "DE89370400440532013000", "370400440532013000", "Grace Hopper"); len(found) != 0 {
			t.Errorf("the account is stored in the clear: %v", found)
		}
		// A new account replaces the old.
		h.want(h.do("pro:"+pro, "PUT", path, map[string]any{"holder": "Grace Hopper", "iban": "GB82 WEST 1234 5698 7654 32"}), 200, "replace")
		if acct := decode[payouts.PayoutAccount](t, h.do("pro:"+pro, "GET", path, nil)); acct.IBAN != "GB82**************5432" || acct.BIC != "" {
			t.Errorf("replaced account %+v", acct)
		}
	})
}
