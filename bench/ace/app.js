// atlassian-connect-express 11 + Express 4 serving the webhook bench/serve.py loads on Pledge: the same event,
// JSON-parsed, answered 204 behind ACE's own JWT + QSH authentication. Tenants come from a JSON file of clientInfo
// records (TENANTS_FILE) put into an in-memory store, as if each had installed: ACE's signed-install check fetches
// Atlassian's install keys from the internet, which a loopback benchmark cannot reach.
"use strict";
const fs = require("fs");
const express = require("express");
const ace = require("atlassian-connect-express");

class MemoryStore {
  constructor() {
    this.values = new Map();
  }
  async get(key, clientKey) {
    return this.values.get(`${clientKey}:${key}`) ?? null;
  }
  async set(key, value, clientKey) {
    this.values.set(`${clientKey}:${key}`, value);
    return value;
  }
  async del(key, clientKey) {
    this.values.delete(`${clientKey}:${key}`);
  }
  async getAllClientInfos() {
    return [...this.values.entries()].filter(([k]) => k.endsWith(":clientInfo")).map(([, v]) => v);
  }
  isMemoryStore() {
    return true;
  }
}

ace.store.register("memory", () => new MemoryStore());

const app = express();
const addon = ace(app);
app.use(express.json({ limit: "1mb" }));

for (const info of JSON.parse(fs.readFileSync(process.env.TENANTS_FILE, "utf8"))) {
  addon.settings.set("clientInfo", info, info.clientKey);
}

app.get("/healthz", (req, res) => res.json({ ok: true }));
app.post("/webhooks/jira-issue-updated", addon.authenticate(), (req, res) => {
  if (typeof req.body !== "object") return res.sendStatus(400);
  res.sendStatus(204);
});

app.listen(Number(process.argv[2]), "127.0.0.1");
