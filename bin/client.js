#!/usr/bin/env node
import "../dist/cli/src/main.js";
