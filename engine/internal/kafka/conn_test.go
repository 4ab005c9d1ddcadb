package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// TestTLS: with the CA of the brokers' certificate, events are written;
// without TLS the failure says the brokers may want it.
func TestTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(ca, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := NewForwarder(ctx, Conn{Brokers: cluster.ListenAddrs(), TLS: cfg}, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if res, err := f.Append(ctx, []delivery.Item{{Data: []byte(`{"type":"track","userId":"u1","event":"E"}`)}}); err != nil || res.Stored != 1 {
		t.Errorf("Append over TLS: %+v, %v", res, err)
	}

	_, err = NewForwarder(ctx, Conn{Brokers: cluster.ListenAddrs()}, "events")
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the Kafka brokers "+cluster.ListenAddrs()[0]+": ") || !strings.HasSuffix(err.Error(), "(the connection was closed: do they want TLS?)") {
		t.Errorf("without TLS: %v", err)
	}

	if _, err := TLSConfig(filepath.Join(t.TempDir(), "none.pem"), "", "", ""); err == nil || !strings.HasPrefix(err.Error(), "tls ca: open ") {
		t.Errorf("missing CA file: %v", err)
	}
	if _, err := TLSConfig("", "cert.pem", "", ""); err == nil || err.Error() != "tls client certificate: give both the certificate and its key" {
		t.Errorf("certificate without key: %v", err)
	}
}

// selfSigned makes a certificate for 127.0.0.1 that is its own CA.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
