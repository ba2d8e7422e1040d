// Package domain holds ai-orchestration's rules, in plain Go without I/O:
// the life of a processing (claimed for an attempt, retried with backoff,
// orphaned after its last attempt, skipped when the patient's consent is
// missing or an admin sends the case on), and the assembly of a case's
// pre-analysis from its documents' analyses and the providers' synthesis,
// every finding with the citation a professional clicks through to.
package domain
