// Package domain holds invoicing's rules in plain Go, without I/O: the
// form of invoice and credit-note numbers, what an invoice says of a
// payment (its lines and totals), how a refund is split into its net and
// tax parts for a credit note, and how amounts are written for people.
//
// Money is integer minor units of an ISO 4217 currency. A credit note is a
// negative invoice: its lines and totals are below zero, so that the sum
// of a payment's invoice and credit notes is what was kept of it.
package domain
