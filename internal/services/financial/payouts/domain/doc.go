// Package domain holds payouts' rules in plain Go: money in minor units
// and its decimal form, the rate table and what an approved opinion
// earns, IBAN and BIC checks, payout periods and statement months, and the
// SEPA credit transfer file (ISO 20022 pain.001.001.09). It does no I/O.
package domain
