package domain

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"text/template"

	"github.com/secondopinion/platform/api/vocab"
)

// Languages are those with templates; the first is the fallback.
var Languages = []vocab.Language{"en", "de"}

// Language is l when there are templates in it, else the fallback.
func Language(l vocab.Language) vocab.Language {
	for _, have := range Languages {
		if l == have {
			return l
		}
	}
	return Languages[0]
}

// FirstLanguage is the first of langs with templates (a professional's
// languages, in their order), else the fallback.
func FirstLanguage(langs []string) vocab.Language {
	for _, l := range langs {
		if Language(vocab.Language(l)) == vocab.Language(l) {
			return vocab.Language(l)
		}
	}
	return Languages[0]
}

//go:embed templates
var templates embed.FS

// texts are the templates of each language: for every kind
// "<kind>.subject" and "<kind>.text", optionally "<kind>.sms", and the
// shared "greeting", "footer" and "open". html lays a message out as
// HTML, escaping what the texts rendered.
var (
	texts = map[vocab.Language]*template.Template{}
	html  = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/layout.html"))
)

func init() {
	for _, l := range Languages {
		texts[l] = template.Must(template.New(string(l)).Funcs(template.FuncMap{"money": Money}).
			ParseFS(templates, "templates/"+string(l)+".tmpl"))
	}
}

// Message is a notice in words: for email (Subject, Text, HTML), for SMS
// (SMS), and in-app (Subject as the title, Body).
type Message struct {
	Subject, Text, HTML, SMS string
	Body                     string // the notice's own words, without greeting, link and footer
	Link                     string // absolute; "" for none
}

// view is what the templates see: the params, the addressee's own first
// name and the link.
type view struct {
	Params
	Name string
	Link string
}

// Render puts a notice into words in language lang (the fallback's
// templates stand in for missing ones). name is the addressee's first
// name, or "" to greet nobody by name; appURL is the base of links.
func Render(lang vocab.Language, k Kind, name string, p Params, appURL string) (Message, error) {
	lang = Language(lang)
	v := view{Params: p, Name: name}
	if path := linkPath(k, p); path != "" {
		v.Link = strings.TrimRight(appURL, "/") + path
	}
	var m Message
	var err error
	get := func(part string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = execute(lang, part, v)
		return s
	}
	m.Link = v.Link
	m.Subject = strings.TrimSpace(get(string(k) + ".subject"))
	body := strings.TrimSpace(get(string(k) + ".text"))
	greeting := strings.TrimSpace(get("greeting"))
	footer := strings.TrimSpace(get("footer"))
	open := strings.TrimSpace(get("open"))
	if has(lang, string(k)+".sms") {
		m.SMS = strings.TrimSpace(get(string(k) + ".sms"))
	} else {
		m.SMS = m.Subject
		if v.Link != "" {
			m.SMS += " " + v.Link
		}
	}
	if err != nil {
		return Message{}, fmt.Errorf("render %s in %s: %w", k, lang, err)
	}
	var t strings.Builder
	t.WriteString(greeting + "\n\n" + body + "\n\n")
	if v.Link != "" {
		t.WriteString(open + " " + v.Link + "\n\n")
	}
	t.WriteString("-- \n" + footer + "\n")
	m.Text, m.Body = t.String(), body
	var h bytes.Buffer
	if err := html.Execute(&h, struct {
		Lang                    vocab.Language
		Subject, Greeting       string
		Paragraphs              []string
		Link, LinkLabel, Footer string
	}{lang, m.Subject, greeting, strings.Split(body, "\n\n"), v.Link, open, footer}); err != nil {
		return Message{}, fmt.Errorf("render %s in %s as HTML: %w", k, lang, err)
	}
	m.HTML = h.String()
	return m, nil
}

// has reports whether lang, or the fallback, defines template name.
func has(lang vocab.Language, name string) bool {
	return texts[lang].Lookup(name) != nil || texts[Languages[0]].Lookup(name) != nil
}

// execute runs template name of lang, else of the fallback language.
func execute(lang vocab.Language, name string, v view) (string, error) {
	t := texts[lang].Lookup(name)
	if t == nil {
		t = texts[Languages[0]].Lookup(name)
	}
	if t == nil {
		return "", fmt.Errorf("no template %q", name)
	}
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// linkPath is where in the app a notice leads; "" for none.
func linkPath(k Kind, p Params) string {
	switch AudienceOf(k) {
	case Patient:
		return "/cases/" + p.CaseID
	case Professional:
		switch k {
		case CaseOffered:
			return "/assignments"
		case PayoutPaid:
			return "/earnings"
		}
		return "/cases/" + p.CaseID
	case Admin:
		switch k {
		case CaseEscalated:
			return "/admin/cases/" + p.CaseID
		case CaseOrphaned:
			return "/admin/triage"
		case CredentialSubmitted:
			return "/admin/credentials/" + p.Ref
		case EventDeadLettered:
			return "/admin/dead-letters"
		}
	}
	return ""
}

// Money is an amount of minor units in its currency, as "EUR 120.50":
// two decimals, which every currency of the catalogue has.
func Money(amount int64, currency string) string {
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s %s%d.%02d", currency, sign, amount/100, amount%100)
}
