package opa

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretKeyWords(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "db_password": true, "dbpassword": true, "passwd": true, "pass": true, "pwd": true,
		"secret": true, "client_secret": true, "token": true, "access_token": true, "authtoken": true,
		"api_key": true, "apikey": true, "private_key": true, "privateKey": true, "key": true, "credentials": true,
		"auth": true, "authorization": true, "Authorization": true, "api-key": true, "passphrase": true,
		"keyspace": false, "key_prefix": false, "author": false, "authors": false, "host": false,
		"monkey": false, "passenger": false, "id": false, "tokenizer": false, "url": false,
	} {
		assert.Equal(t, want, secretKey(key), key)
	}
}
