package domain

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// SEPANamespace is the namespace of an ISO 20022 customer credit transfer
// initiation, version 9: the file a bank takes to pay many creditors.
const SEPANamespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

// Party is an account holder: the debtor (us) or a creditor.
type Party struct {
	Name string
	IBAN string // electronic form
	BIC  string // "" when unknown: a SEPA transfer needs only the IBAN
}

// Transfer is one credit of a SEPA file.
type Transfer struct {
	EndToEndID string // up to 35 characters, unique in the file
	Creditor   Party
	Amount     int64 // euro cents
	Remittance string
}

// CreditTransfer is a whole SEPA credit transfer file: one payment from
// the debtor's account to each creditor.
type CreditTransfer struct {
	MessageID string // up to 35 characters; a bank refuses a repeated one, so a file cannot be paid twice
	CreatedAt time.Time
	Execution time.Time // the requested execution day
	Debtor    Party
	Transfers []Transfer
}

// maxSEPAAmount is the largest amount of one SEPA credit transfer:
// 999,999,999.99 euros, in cents.
const maxSEPAAmount = 99_999_999_999

// SEPA writes t as a pain.001.001.09 document as the European Payments
// Council's SEPA credit transfer implementation guidelines restrict it:
// euros only, IBANs only, service level SEPA, charges shared (SLEV),
// names of at most 70 characters, one unstructured remittance line of at
// most 140.
func (t CreditTransfer) SEPA() ([]byte, error) {
	if len(t.Transfers) == 0 {
		return nil, fault.Conflict("Nothing to transfer", "a SEPA file needs at least one transfer")
	}
	if err := checkParty(t.Debtor, "debtor"); err != nil {
		return nil, err
	}
	doc := sepaDocument{Xmlns: SEPANamespace}
	var total int64
	seen := map[string]bool{}
	txs := make([]sepaTransaction, 0, len(t.Transfers))
	for _, tr := range t.Transfers {
		if err := checkParty(tr.Creditor, "creditor"); err != nil {
			return nil, err
		}
		if tr.Amount < 1 || tr.Amount > maxSEPAAmount {
			return nil, fmt.Errorf("SEPA transfer %s: amount %d cents out of range", tr.EndToEndID, tr.Amount)
		}
		if !identifier(tr.EndToEndID) || seen[tr.EndToEndID] {
			return nil, fmt.Errorf("SEPA transfer: end-to-end id %q is not a unique identifier of up to 35 characters", tr.EndToEndID)
		}
		seen[tr.EndToEndID] = true
		var err error
		if total, err = Sum(total, tr.Amount); err != nil {
			return nil, err
		}
		tx := sepaTransaction{EndToEndID: tr.EndToEndID,
			Amount:     sepaAmount{Currency: "EUR", Value: FormatAmount(tr.Amount, "EUR")},
			Creditor:   sepaName{Name: clip(tr.Creditor.Name, 70)},
			CreditorAc: sepaAccount{IBAN: tr.Creditor.IBAN}}
		if tr.Creditor.BIC != "" {
			tx.CreditorAgent = &sepaAgent{BIC: tr.Creditor.BIC}
		}
		if r := clip(tr.Remittance, 140); r != "" {
			tx.Remittance = &sepaRemittance{Unstructured: r}
		}
		txs = append(txs, tx)
	}
	if !identifier(t.MessageID) {
		return nil, fmt.Errorf("SEPA file: message id %q is not an identifier of up to 35 characters", t.MessageID)
	}
	count, sum := fmt.Sprint(len(txs)), FormatAmount(total, "EUR")
	debtor := sepaName{Name: clip(t.Debtor.Name, 70)}
	doc.Initiation.Header = sepaHeader{MessageID: t.MessageID, CreatedAt: t.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		Transactions: count, ControlSum: sum, InitiatingParty: debtor}
	agent := sepaAgent{BIC: t.Debtor.BIC}
	if agent.BIC == "" {
		agent = sepaAgent{Other: &sepaOther{ID: "NOTPROVIDED"}}
	}
	doc.Initiation.Payment = sepaPayment{ID: t.MessageID, Method: "TRF", BatchBooking: true, Transactions: count,
		ControlSum: sum, ServiceLevel: "SEPA", Execution: t.Execution.UTC().Format(DateLayout), Debtor: debtor,
		DebtorAccount: sepaAccount{IBAN: t.Debtor.IBAN}, DebtorAgent: agent, ChargeBearer: "SLEV", Transfers: txs}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("SEPA file: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func checkParty(p Party, role string) error {
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("SEPA %s without a name", role)
	}
	if err := ValidIBAN(p.IBAN); err != nil {
		return fmt.Errorf("SEPA %s: %w", role, err)
	}
	if p.BIC != "" {
		if err := ValidBIC(p.BIC); err != nil {
			return fmt.Errorf("SEPA %s: %w", role, err)
		}
	}
	return nil
}

// identifier reports whether s can identify a SEPA message or transfer:
// 1 to 35 of the characters every bank takes, not starting or ending with
// a slash nor holding two in a row.
func identifier(s string) bool {
	if s == "" || len(s) > 35 || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/-?:().,'+ ", c)) {
			return false
		}
	}
	return true
}

// clip trims s and cuts it to at most n characters (not bytes).
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:n]))
}

// The document's elements, in the order the schema wants them.
type (
	sepaDocument struct {
		XMLName    xml.Name `xml:"Document"`
		Xmlns      string   `xml:"xmlns,attr"`
		Initiation struct {
			Header  sepaHeader  `xml:"GrpHdr"`
			Payment sepaPayment `xml:"PmtInf"`
		} `xml:"CstmrCdtTrfInitn"`
	}
	sepaHeader struct {
		MessageID       string   `xml:"MsgId"`
		CreatedAt       string   `xml:"CreDtTm"`
		Transactions    string   `xml:"NbOfTxs"`
		ControlSum      string   `xml:"CtrlSum"`
		InitiatingParty sepaName `xml:"InitgPty"`
	}
	sepaPayment struct {
		ID            string            `xml:"PmtInfId"`
		Method        string            `xml:"PmtMtd"`
		BatchBooking  bool              `xml:"BtchBookg"`
		Transactions  string            `xml:"NbOfTxs"`
		ControlSum    string            `xml:"CtrlSum"`
		ServiceLevel  string            `xml:"PmtTpInf>SvcLvl>Cd"`
		Execution     string            `xml:"ReqdExctnDt>Dt"`
		Debtor        sepaName          `xml:"Dbtr"`
		DebtorAccount sepaAccount       `xml:"DbtrAcct"`
		DebtorAgent   sepaAgent         `xml:"DbtrAgt"`
		ChargeBearer  string            `xml:"ChrgBr"`
		Transfers     []sepaTransaction `xml:"CdtTrfTxInf"`
	}
	sepaTransaction struct {
		EndToEndID    string          `xml:"PmtId>EndToEndId"`
		Amount        sepaAmount      `xml:"Amt>InstdAmt"`
		CreditorAgent *sepaAgent      `xml:"CdtrAgt,omitempty"`
		Creditor      sepaName        `xml:"Cdtr"`
		CreditorAc    sepaAccount     `xml:"CdtrAcct"`
		Remittance    *sepaRemittance `xml:"RmtInf,omitempty"`
	}
	sepaName struct {
		Name string `xml:"Nm"`
	}
	sepaAccount struct {
		IBAN string `xml:"Id>IBAN"`
	}
	sepaAgent struct {
		BIC   string     `xml:"FinInstnId>BICFI,omitempty"`
		Other *sepaOther `xml:"FinInstnId>Othr,omitempty"`
	}
	sepaOther struct {
		ID string `xml:"Id"`
	}
	sepaAmount struct {
		Currency string `xml:"Ccy,attr"`
		Value    string `xml:",chardata"`
	}
	sepaRemittance struct {
		Unstructured string `xml:"Ustrd"`
	}
)
