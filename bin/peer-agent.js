#!/usr/bin/env node
import "../dist/peer-agent/src/main.js";
