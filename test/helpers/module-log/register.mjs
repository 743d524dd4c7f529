// `node --import <this file> …`: logs every module loaded (hooks.mjs), to see what a command imports.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
