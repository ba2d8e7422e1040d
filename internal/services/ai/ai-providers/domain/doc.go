// Package domain holds the rules of ai-providers in plain Go, without I/O:
// what a case-synthesis request and its answer are, how an answer is
// validated (against the JSON schema of the request and against the
// request's own documents), how direct identifiers are removed from text
// before it leaves the process, how a request is routed to an ordered
// chain of providers, and the errors with meaning that the router and the
// service return.
//
// # The privacy gate
//
// Three rules stand between a case's records and an AI provider, applied
// by the router (package router) with the functions of this package:
//
//  1. No AI_PROCESSING consent, no AI call at all: the caller checks the
//     patient's consent and sets SynthesisRequest.Consent.AIProcessing;
//     without it the router returns ErrNoConsent before choosing any
//     provider, the in-process one included.
//  2. Only providers on the allow-list receive data: an external provider
//     (one whose ProviderInfo.External is true, i.e. the text leaves the
//     process) is called only when its name is on the allow-list, which
//     names the providers under a data-processing agreement. Failover
//     walks the same filtered chain, so it never leaves the allow-list.
//  3. Before any external call the request is de-identified (Deidentify):
//     the patient context (names, date of birth, contacts, addresses,
//     record and case numbers) is dropped, the case id is dropped,
//     document ids are replaced by aliases ("doc-1"), and every text —
//     document titles and passages — goes through Redact, which replaces
//     direct identifiers with placeholders ([NAME], [DATE], …).
//
// The embedded provider ("local") runs in the process: the text never
// leaves it, so it is not subject to the allow-list and it sees the text as
// the caller gave it. That is a deliberate choice — the local synthesis is
// extractive and quotes the records, and a professional who reads it later
// is entitled to the records anyway — and it is the only exception: the
// consent rule holds for it as for every provider.
package domain
