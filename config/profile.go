package config

import "time"

// Profile names: presets that make the gateway stand in for one of the
// aviation APIs. A profile's values apply first; the file's own values win.
const (
	ProfileCAPA          = "capa"
	ProfileAltitudeAngel = "altitudeangel"
	ProfileNavigraph     = "navigraph"
)

// Token request body formats (tokens.body_formats).
const (
	BodyForm = "form" // application/x-www-form-urlencoded
	BodyJSON = "json" // application/json
)

// Profiles returns the known profile names, sorted.
func Profiles() []string {
	return []string{ProfileAltitudeAngel, ProfileCAPA, ProfileNavigraph}
}

// applyProfile presets c for the named profile; false if it is unknown.
func applyProfile(name string, c *Config) bool {
	switch name {
	case ProfileCAPA:
		c.Endpoints.Token = "/account/token"
		c.Tokens.BodyFormats = []string{BodyJSON, BodyForm}
		c.Tokens.AccessTTL = Duration(8 * time.Hour)
		c.Tokens.RefreshTTL = Duration(720 * time.Hour)
		c.Tokens.A2ATTL = Duration(8760 * time.Hour)
		c.Scopes = []string{"user"}
	case ProfileAltitudeAngel:
		c.Endpoints.Token = "/oauth/v2/token"
		c.Tokens.BodyFormats = []string{BodyForm}
		c.Tokens.AccessTTL = Duration(15 * time.Minute)
		c.Tokens.RefreshOnEveryGrant = true
		c.Tokens.InvalidScopeStatus = 401
		c.Scopes = []string{
			"access_archive", "talk_tower", "manage_users",
			"query_mapdata", "query_mapairdata", "manage_flightreports",
		}
	case ProfileNavigraph:
		c.Endpoints.Token = "/connect/token"
		c.Tokens.BodyFormats = []string{BodyForm}
		c.Tokens.AccessTTL = Duration(time.Hour)
		c.Scopes = []string{"fmsdata"}
	default:
		return false
	}
	return true
}
