// Validates a Forge manifest.yml with Atlassian's @forge/manifest (the validator the Forge CLI runs) and prints
// {"success": bool, "errors": [{"level", "message"}]} as JSON. Usage: node validate.js <path/to/manifest.yml>
"use strict";
const { validate } = require("@forge/manifest");

validate(false, process.argv[2]).then(
  (result) => {
    const errors = (result.errors || []).map(({ level, message }) => ({ level, message }));
    process.stdout.write(JSON.stringify({ success: result.success, errors }));
  },
  (error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(2);
  }
);
