// An app JWT (RS256) signed with node's own crypto, as GitHub expects it from an app.

import { sign } from "node:crypto";

function base64url(json: object): string {
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

/**
 * A JWT for the app `iss` (its id or client id), signed with its RSA private key (PEM).
 * `iat` is set 60 s in the past to absorb clock drift, `exp` 9 minutes ahead: within the
 * 10 minutes GitHub (and patgate) allow.
 */
export function appJwt(iss: number | string, privateKeyPem: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const header = base64url({ alg: "RS256", typ: "JWT" });
  const claims = base64url({ iat: nowSeconds - 60, exp: nowSeconds + 9 * 60, iss });
  const signingInput = `${header}.${claims}`;
  // For an RSA key, crypto.sign uses PKCS#1 v1.5 padding: with SHA-256 that is RS256.
  const signature = sign("sha256", Buffer.from(signingInput), privateKeyPem).toString("base64url");
  return `${signingInput}.${signature}`;
}
