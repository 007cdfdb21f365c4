// Drives the upload page in headless Chromium: connect with a token, add
// files to Uppy's Dashboard through its file input, upload, and report
// what the page saw as JSON on stdout. Usage:
//   node uppy.mjs <page-url> <token> <file>...
import { chromium } from 'playwright-core'

const [url, token, ...paths] = process.argv.slice(2)
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium'
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] })
const out = { console: [] }
try {
  const page = await browser.newPage()
  page.on('console', (m) => out.console.push(m.type() + ': ' + m.text()))
  page.on('pageerror', (e) => out.console.push('pageerror: ' + e.message))
  await page.goto(url + '#token=' + encodeURIComponent(token))
  await page.waitForFunction(() => window.anexo && window.anexo.ready, null, { timeout: 30000 })
  await page.setInputFiles('.uppy-Dashboard-input >> nth=0', paths)
  await page.waitForFunction((n) => window.anexo.uppy.getFiles().length === n, paths.length, { timeout: 30000 })
  await page.click('.uppy-StatusBar-actionBtn--upload')
  await page.waitForFunction((n) => window.anexo.uploaded.length + window.anexo.failed.length >= n, paths.length, { timeout: 120000 })
  // the file list refreshes after the uploads
  await page.waitForFunction((n) => document.querySelectorAll('#files tr').length >= n, paths.length, { timeout: 30000 })
  out.uploaded = await page.evaluate(() => window.anexo.uploaded)
  out.failed = await page.evaluate(() => window.anexo.failed)
  out.listed = await page.$$eval('#files tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent))
  // a picture's thumbnail, once its preview is rendered (the page asks again)
  if (process.env.THUMB_NAME) {
    const img = page.locator('#files tr', { hasText: process.env.THUMB_NAME }).locator('img')
    await img.waitFor({ timeout: 30000 })
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: 30000 })
    out.thumb = await img.evaluate((el) => ({ width: el.naturalWidth, height: el.naturalHeight }))
  }
  // download one file with the page's button, as a person would
  if (process.env.DOWNLOAD_NAME) {
    const row = page.locator('#files tr', { hasText: process.env.DOWNLOAD_NAME })
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), row.locator('button').click()])
    await dl.saveAs(process.env.DOWNLOAD_TO)
    out.downloaded = dl.suggestedFilename()
  }
} catch (e) {
  out.error = String(e && e.stack || e)
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(out) + '\n')
process.exit(out.error ? 1 : 0)
