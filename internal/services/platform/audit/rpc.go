package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// rpcCallers is who may call the internal PatientDataService:
// patient-identity, which checks and records the export it gathers.
var rpcCallers = rpc.Callers{
	patientv1connect.PatientDataServiceExportProcedure: {"patient-identity"},
}

// dataServer is the internal PatientDataService.
type dataServer struct {
	patientv1connect.UnimplementedPatientDataServiceHandler
	s *Service
}

// exportPage bounds the entries the export holds in memory at once.
const exportPage = 200

// exportedEntry is an entry of a patient's access-log.json: as their
// access log shows it, with the address and user agent of what they did
// themselves — another actor's are that actor's data, not theirs.
type exportedEntry struct {
	AccessLogEntry
	ClientAddr string `json:"clientAddr,omitempty"`
	UserAgent  string `json:"userAgent,omitempty"`
}

// Export streams the patient's part of the trail as access-log.json, a
// JSON array, oldest first: the entries about their data (who read or
// changed it, when, why and with what outcome), about their profile and
// their cases, and of what they did themselves.
func (d *dataServer) Export(ctx context.Context, req *connect.Request[patientv1.ExportRequest], stream *connect.ServerStream[patientv1.ExportChunk]) error {
	patient, cases := req.Msg.GetPatientId(), req.Msg.GetCaseIds()
	if _, err := uuid.Parse(patient); err != nil {
		return rpc.Error(ctx, fault.Invalid("patient_id", "must be a UUID"))
	}
	for _, id := range cases {
		if _, err := uuid.Parse(id); err != nil {
			return rpc.Error(ctx, fault.Invalid("case_ids", "must be UUIDs"))
		}
	}
	w := patientdata.Writer(stream)
	// The array is written page by page into a pipe that the writer reads
	// in chunks: neither the log nor a store connection is held for the
	// whole stream.
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(d.s.writeAccessLog(ctx, pw, patient, cases))
	}()
	err := w.Copy("access-log.json", pr)
	pr.CloseWithError(err) // a failed stream stops the writing
	<-done
	if err != nil {
		return rpc.Error(ctx, err)
	}
	return nil
}

// writeAccessLog writes the patient's entries to out as a JSON array.
func (s *Service) writeAccessLog(ctx context.Context, out io.Writer, patient string, cases []string) error {
	if _, err := io.WriteString(out, "["); err != nil {
		return err
	}
	sep := "\n  "
	for after := int64(0); ; {
		es, err := s.store.Concerning(ctx, patient, cases, after, exportPage)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		for _, e := range es {
			j, err := json.MarshalIndent(exported(e, patient), "  ", "  ")
			if err != nil {
				return fmt.Errorf("export audit entry %d: %w", e.Seq, err)
			}
			b.WriteString(sep)
			b.Write(j)
			sep, after = ",\n  ", e.Seq
		}
		if _, err := out.Write(b.Bytes()); err != nil {
			return err
		}
		if len(es) < exportPage {
			break
		}
	}
	_, err := io.WriteString(out, "\n]\n")
	return err
}

// exported is e in patient's export.
func exported(e store.Entry, patient string) exportedEntry {
	x := exportedEntry{AccessLogEntry: toAccessLogEntry(e, patient)}
	if e.Actor == patient {
		x.ClientAddr, x.UserAgent = e.ClientAddr, e.UserAgent
	}
	return x
}
