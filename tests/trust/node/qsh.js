// Cross-check for pledge.trust.qsh: npm atlassian-jwt's canonical request and qsh for each request.
// stdin: one JSON object a line, {"method": "...", "url": "...", "baseUrl": "..." (optional)}.
// stdout: one JSON object a line, in the same order, {"canonical": "...", "qsh": "..."} or {"error": "..."}.
'use strict';

const jwt = require('atlassian-jwt');

const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((line) => line.length > 0);
const out = lines.map((line) => {
  try {
    const { method, url, baseUrl } = JSON.parse(line);
    const req = jwt.fromMethodAndUrl(method, url);
    return { canonical: jwt.createCanonicalRequest(req, false, baseUrl), qsh: jwt.createQueryStringHash(req, false, baseUrl) };
  } catch (e) {
    return { error: String(e) };
  }
});
process.stdout.write(out.map((o) => JSON.stringify(o)).join('\n') + (out.length ? '\n' : ''));
