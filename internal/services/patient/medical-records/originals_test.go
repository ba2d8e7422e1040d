package medicalrecords

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The AI domain lists a case's records and reads their originals over
// RecordsService: document-analysis reads the bytes as uploaded, in
// chunks, each read audited; nobody else may.
func TestRecordsForAnalysis(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		caseID := h.newCase(patientA, "NEUROLOGY", "DRAFT")
		report := h.pdf()
		// A text larger than one chunk, so that it arrives in several.
		notes := append([]byte("Discharge notes\n"), bytes.Repeat([]byte(rand.Text()+"\n"), 20_000)...)
		ids := map[string][]byte{}
		for name, content := range map[string][]byte{"report.pdf": report, "notes.txt": notes} {
			res := h.upload("a", caseID, "OTHER", name, content)
			if res.status != 201 {
				t.Fatalf("upload %s: %d %s", name, res.status, res.raw)
			}
			ids[res.body["id"].(string)] = content
		}
		mem := rpc.NewInProcess(httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens}))
		defer mem.Close()
		client := func(token string) patientv1connect.RecordsServiceClient {
			return patientv1connect.NewRecordsServiceClient(bearer(mem.Client(), token), rpc.BaseURL, rpc.ClientOptions()...)
		}
		ctx := context.Background()

		list, err := client("service:document-analysis").Documents(ctx, connect.NewRequest(&patientv1.DocumentsRequest{CaseId: caseID}))
		if err != nil || len(list.Msg.Documents) != 2 {
			t.Fatalf("Documents: %v %v", list, err)
		}
		for _, d := range list.Msg.Documents {
			if _, ok := ids[d.Id]; !ok || d.CaseId != caseID || d.PatientId != patientA || d.Size != int64(len(ids[d.Id])) || d.Sha256 == "" {
				t.Errorf("listed %+v", d)
			}
		}
		one, err := client("service:document-analysis").Record(ctx, connect.NewRequest(&patientv1.RecordRequest{DocumentId: list.Msg.Documents[0].Id}))
		if err != nil || one.Msg.Id != list.Msg.Documents[0].Id || one.Msg.FileType == "" || one.Msg.CaseId != caseID {
			t.Errorf("Record: %v %v", one, err)
		}
		before := h.audited("document.read")
		for id, want := range ids {
			stream, err := client("service:document-analysis").Content(ctx, connect.NewRequest(&patientv1.ContentRequest{DocumentId: id}))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			chunks := 0
			for stream.Receive() {
				chunks++
				if len(stream.Msg().Data) > contentChunk {
					t.Errorf("a chunk of %d bytes", len(stream.Msg().Data))
				}
				got = append(got, stream.Msg().Data...)
			}
			if err := stream.Err(); err != nil || !bytes.Equal(got, want) {
				t.Errorf("Content of %s: %d bytes in %d chunks, err %v; want the %d uploaded", id, len(got), chunks, err, len(want))
			}
			if len(want) > contentChunk && chunks < 2 {
				t.Errorf("%d bytes in %d chunk", len(want), chunks)
			}
		}
		if n := h.audited("document.read") - before; n != 2 {
			t.Errorf("%d reads audited, want 2", n)
		}

		for _, token := range []string{"service:case-management", "service:patient-identity", "a", ""} {
			stream, err := client(token).Content(ctx, connect.NewRequest(&patientv1.ContentRequest{DocumentId: list.Msg.Documents[0].Id}))
			if err == nil {
				for stream.Receive() {
					t.Errorf("%q read content", token)
				}
				err = stream.Err()
			}
			if c := connect.CodeOf(err); c != connect.CodePermissionDenied && c != connect.CodeUnauthenticated {
				t.Errorf("Content as %q: %v, want refused", token, err)
			}
		}
		if _, err := client("service:case-management").Documents(ctx, connect.NewRequest(&patientv1.DocumentsRequest{CaseId: caseID})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("Documents as case-management: %v", err)
		}
		stream, err := client("service:document-analysis").Content(ctx, connect.NewRequest(&patientv1.ContentRequest{DocumentId: "0190a0a0-0000-7000-8000-00000000dead"}))
		if err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
		}
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("Content of no record: %v, want NotFound", err)
		}
	})
}
