// Package domain holds the rules of a medical opinion in plain Go: the
// content of a draft and when it is complete, ICD-10 code formats, the
// professional's review of the AI pre-analysis and what the patient reads
// of it, who may write a case's opinion and until when, the status
// machine with peer review of JUNIOR opinions, who may review, and the
// follow-up questions a patient may ask after approval. It does no I/O.
package domain
