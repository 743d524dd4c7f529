// Loaded with `node --import` by the benchmark: prints the process's peak memory (max RSS, in
// KiB) on stderr when it exits, without any measuring code in the product itself.
process.on('exit', () => {
  process.stderr.write(`\nbench-max-rss-kib=${process.resourceUsage().maxRSS}\n`);
});
