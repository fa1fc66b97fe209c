package httpapi

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse"
)

// StatusOf maps error codes to HTTP statuses: the one table, shared by the
// API and the console.
func StatusOf(code string) int {
	switch code {
	case gatehouse.EINVALID:
		return http.StatusBadRequest
	case gatehouse.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case gatehouse.EFORBIDDEN, gatehouse.EREFUSED:
		return http.StatusForbidden
	case gatehouse.ENOTFOUND:
		return http.StatusNotFound
	case gatehouse.ECONFLICT:
		return http.StatusConflict
	case gatehouse.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case gatehouse.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// maxBody bounds every request body (of a run with stdin: the request
// object before the stdin frames).
const maxBody = 1 << 20
