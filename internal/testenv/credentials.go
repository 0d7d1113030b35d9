package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// credentials are what the API server is started with: a static token for a cluster admin, and the key that signs
// service account tokens.
type credentials struct {
	adminToken        string
	tokenFile         string
	serviceAccountKey string
}

func writeCredentials(dir string) (*credentials, error) {
	tokenBytes := make([]byte, 24)
	if _, err := rand.Read(tokenBytes); err != nil {
		return nil, fmt.Errorf("generating a token: %w", err)
	}
	c := &credentials{
		adminToken:        hex.EncodeToString(tokenBytes),
		tokenFile:         filepath.Join(dir, "tokens.csv"),
		serviceAccountKey: filepath.Join(dir, "service-account.key"),
	}
	// token,user,uid,"group1,group2"
	if err := os.WriteFile(c.tokenFile, []byte(c.adminToken+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing the token file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the service account key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(c.serviceAccountKey, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing the service account key: %w", err)
	}
	return c, nil
}
