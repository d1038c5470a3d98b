/** Entry point of kroute's multi-language component provider (see PulumiPlugin.yaml and docs/pulumi.md). */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './host.js';

await serve(dirname(fileURLToPath(import.meta.url)));
