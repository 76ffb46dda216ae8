// ./board in a real browser: Debian's Chromium driven by puppeteer-core (no browser download).
// Opens the page, waits for the curves and the checkpoint table, draws a "1" on the pad with the
// mouse, reads the prediction, saves a screenshot. Prints what it saw; exits 1 on any failure.
//   usage: node board.test.js URL SCREENSHOT.png [EXPECTED_CLASS]
"use strict";
const puppeteer = require("puppeteer-core");

async function main() {
  const [url, shot, expected] = process.argv.slice(2);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1160, height: 1100 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => Number(document.getElementById("curves").dataset.points || 0) > 0, { timeout: 20000 });
    const points = await page.$eval("#curves", (c) => Number(c.dataset.points));
    await page.waitForFunction(() => document.querySelectorAll("#checkpoints tbody tr").length > 0, { timeout: 20000 });
    const rows = await page.$$eval("#checkpoints tbody tr", (r) => r.map((x) => x.innerText.split("\t")[0]));
    await page.waitForFunction(() => document.getElementById("eval-summary").textContent.includes("test accuracy"), { timeout: 60000 });
    const summary = await page.$eval("#eval-summary", (e) => e.textContent);
    const box = await (await page.$("#pad")).boundingBox();
    await page.mouse.move(box.x + 150, box.y + 40);
    await page.mouse.down();
    for (let y = 40; y <= 240; y += 10) await page.mouse.move(box.x + 145 - (y - 40) / 25, box.y + y);
    await page.mouse.up();
    await page.waitForFunction(() => /^[^–?]/.test(document.getElementById("prediction").textContent) &&
      document.querySelectorAll("#probs .bar").length === 10, { timeout: 20000 });
    await new Promise((r) => setTimeout(r, 500));  // the last request in flight
    const prediction = await page.$eval("#prediction", (e) => e.textContent);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`board.test: curves with ${points} points; ${rows.length} checkpoint rows (${rows[0]} ...); ` +
      `evaluation: ${summary}; drew a 1, the page predicts ${prediction}; screenshot ${shot}`);
    const ok = points > 0 && rows.length > 0 && errors.length === 0 && (!expected || prediction === expected);
    if (errors.length) console.log("board.test: page errors: " + errors.join("; "));
    if (!ok) console.log(`board.test: FAIL (expected the prediction ${expected})`);
    return ok ? 0 : 1;
  } finally {
    await browser.close();
  }
}

main().then((code) => process.exit(code), (e) => { console.error("board.test: FAIL: " + e.message); process.exit(1); });
