#!/usr/bin/env node
import "../dist/tracker-api/src/main.js";
