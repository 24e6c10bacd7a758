package plugin

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
)

// Settings are a datasource's settings as Grafana stores them: the API URL
// in the datasource's URL, options in jsonData, secrets in secureJsonData.
// The token never appears in JSON or in logs (`json:"-"`).
type Settings struct {
	// URL is the Highway API's base URL.
	URL string `json:"-"`
	// TLSSkipVerify turns off certificate checks. Default false.
	TLSSkipVerify bool `json:"tlsSkipVerify"`
	// TimeoutSeconds bounds each API call. Default 60.
	TimeoutSeconds int `json:"timeoutSeconds"`
	// LiveBuffer is how many live records a stream keeps between flushes
	// before it drops the oldest. Default 1000.
	LiveBuffer int `json:"liveBuffer"`

	// Token is the department's token (secureJsonData.token).
	Token string `json:"-"`
	// TLSCACert is a PEM bundle of CAs (secureJsonData.tlsCACert).
	TLSCACert string `json:"-"`
}

// LoadSettings reads a datasource's settings. It fails only on malformed
// jsonData; missing values are reported by the client with a hint.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var out Settings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &out); err != nil {
			return out, fmt.Errorf("%w: jsonData is not valid: %v", apiclient.ErrConfig, err)
		}
	}
	out.URL = s.URL
	out.Token = s.DecryptedSecureJSONData["token"]
	out.TLSCACert = s.DecryptedSecureJSONData["tlsCACert"]
	if out.TimeoutSeconds <= 0 {
		out.TimeoutSeconds = 60
	}
	if out.LiveBuffer <= 0 {
		out.LiveBuffer = 1000
	}
	return out, nil
}

// ClientConfig is the API client's configuration from the settings.
func (s Settings) ClientConfig() apiclient.Config {
	return apiclient.Config{
		URL: s.URL, Token: s.Token, TLSSkipVerify: s.TLSSkipVerify, TLSCACert: s.TLSCACert,
		Timeout: time.Duration(s.TimeoutSeconds) * time.Second,
	}
}
