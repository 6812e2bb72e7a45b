// Puppeteer must not download its own Chrome (no network for it on CI machines);
// the tests and benchmarks use Debian's /usr/bin/chromium, or PUPPETEER_EXECUTABLE_PATH.
module.exports = { skipDownload: true };
