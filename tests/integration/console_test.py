#!/usr/bin/python3
"""The scepd web console in headless chromium (Selenium, chromedriver).

Run by test_console.sh with Debian's /usr/bin/python3 (python3-selenium)
against a running scepd.  Environment: CONSOLE_URL (the admin listener's
origin), CONSOLE_TOKEN (an operator token), CONSOLE_SPKI (base64 SHA-256
of the admin certificate's key, the one certificate chromium is told to
accept), CONSOLE_ART (where screenshots go), CONSOLE_SEARCH (a subject
to search for), CONSOLE_SERIAL (its serial, as openssl prints it),
CONSOLE_HELD (the CN of a request waiting for approval), CHROMIUM and
CHROMEDRIVER.  Exits non-zero with a message on the first failed check.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

URL = os.environ["CONSOLE_URL"]
TOKEN = os.environ["CONSOLE_TOKEN"]
ART = os.environ["CONSOLE_ART"]
SEARCH = os.environ["CONSOLE_SEARCH"]
SERIAL = os.environ["CONSOLE_SERIAL"].upper().lstrip("0")
HELD = os.environ["CONSOLE_HELD"]


def fail(msg):
    print("console_test: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def say(msg):
    print("console_test: " + msg, flush=True)


opts = webdriver.ChromeOptions()
opts.binary_location = os.environ["CHROMIUM"]
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,900", "--no-first-run", "--disable-extensions",
          "--disable-background-networking", "--disable-sync", "--disable-default-apps",
          # Trust exactly the admin listener's key, nothing else.
          "--ignore-certificate-errors-spki-list=" + os.environ["CONSOLE_SPKI"]):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
drv = webdriver.Chrome(service=Service(os.environ["CHROMEDRIVER"]), options=opts)
# A view re-renders its nodes as data arrives: an element found a moment
# ago may be gone, so the waits look again instead of failing.
wait = WebDriverWait(drv, 15, ignored_exceptions=[StaleElementReferenceException])
shots = []


def shot(name):
    path = os.path.join(ART, name + ".png")
    if not drv.save_screenshot(path):
        fail("screenshot " + name + " not saved")
    shots.append(name)


def title_is(text):
    try:
        wait.until(lambda d: text in d.find_element(By.ID, "view-title").text)
    except TimeoutException:
        fail("view title never became %r (it is %r)" % (text, drv.find_element(By.ID, "view-title").text))


def wait_css(sel, what):
    try:
        return wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, sel)))
    except TimeoutException:
        errs = [e.text for e in drv.find_elements(By.CSS_SELECTOR, ".error")]
        fail("%s: %s did not appear (errors shown: %s)" % (what, sel, errs))


def no_error_box(where):
    errs = [e.text for e in drv.find_elements(By.CSS_SELECTOR, ".error") if e.is_displayed()]
    if errs:
        fail(where + ": the console shows an error: " + "; ".join(errs))


def confirm_dialog(label):
    dlg = wait_css("dialog#confirm[open]", "the confirmation dialog")
    ok = dlg.find_element(By.ID, "confirm-ok")
    if ok.text != label:
        fail("the confirmation button says %r, want %r" % (ok.text, label))
    return ok


try:
    say("sign-in page")
    drv.get(URL + "/")
    box = wait_css("#token", "the sign-in form")
    if drv.find_element(By.ID, "top").is_displayed():
        fail("the navigation shows before sign-in")
    shot("signin")
    box.send_keys(TOKEN)
    drv.find_element(By.ID, "signin").click()
    title_is("Certificate inventory")
    wait_css("#inventory-table", "the inventory table")
    if "console-op (operator)" not in drv.find_element(By.ID, "who").text:
        fail("the header does not name the token: " + drv.find_element(By.ID, "who").text)
    if drv.execute_script("return document.cookie") != "":
        fail("the console set a cookie")
    if drv.execute_script("return sessionStorage.getItem('scepd.token')") != TOKEN:
        fail("the token is not kept in sessionStorage")
    shot("inventory")

    say("search for " + SEARCH)
    q = drv.find_element(By.ID, "f-q")
    q.clear()
    q.send_keys(SEARCH)
    drv.find_element(By.ID, "search").click()
    wait.until(lambda d: "q=" + SEARCH in d.current_url)
    wait_css("#inventory-table", "the search result")
    rows = drv.find_elements(By.CSS_SELECTOR, "#inventory-table tbody tr")
    subjects = [r.find_element(By.CSS_SELECTOR, "td.subject").text for r in rows]
    if len(rows) != 1 or SEARCH not in subjects[0]:
        fail("searching %s found %s" % (SEARCH, subjects))
    shot("inventory-search")

    say("certificate details and revocation with a reason")
    rows[0].find_element(By.CSS_SELECTOR, "a.cert-link").click()
    wait_css("#cert-details", "the certificate details")
    if drv.find_element(By.CSS_SELECTOR, "#cert-status .badge").text != "valid":
        fail("the certificate is not shown valid before revocation")
    shown = drv.find_element(By.CSS_SELECTOR, "#cert-details .mono").text.upper().lstrip("0")
    if shown != SERIAL:
        fail("details show serial %s, want %s" % (shown, SERIAL))
    if "BEGIN CERTIFICATE" not in drv.find_element(By.ID, "cert-pem").text:
        fail("no PEM shown")
    href = drv.find_element(By.ID, "download-pem").get_attribute("href")
    if not href.startswith("blob:"):
        fail("the PEM download is not a blob: " + href)
    kinds = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "#cert-events .badge")]
    if "issue" not in kinds:
        fail("the history lacks the issue event: %s" % kinds)
    shot("certificate")
    Select(drv.find_element(By.ID, "revoke-reason")).select_by_value("keyCompromise")
    drv.find_element(By.ID, "revoke").click()
    confirm_dialog("Revoke").click()
    try:
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#cert-status .badge").text == "revoked")
    except TimeoutException:
        no_error_box("revoke")
        fail("the status did not change to revoked")
    if drv.find_elements(By.ID, "revoke-form"):
        fail("a revoked certificate still offers revocation")
    kinds = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "#cert-events .badge")]
    if "revoke" not in kinds:
        fail("the history lacks the revoke event: %s" % kinds)
    if "keyCompromise" not in drv.find_element(By.ID, "cert-details").text:
        fail("the details do not give the reason")
    shot("certificate-revoked")
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=inventory]").click()
    q = wait_css("#f-q", "the inventory")
    q.clear()
    q.send_keys(SEARCH)
    drv.find_element(By.ID, "search").click()
    wait.until(lambda d: "q=" + SEARCH in d.current_url)
    badge = wait_css("#inventory-table tbody tr .badge", "the revoked row")
    if badge.text != "revoked":
        fail("the inventory shows %s after revocation" % badge.text)

    say("expiring soon: the weekly SVG chart")
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=expiring]").click()
    title_is("Expiring soon")
    # The title is drawn at once, the chart when /stats has answered.
    try:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#expiry-chart svg rect.bar"))
    except TimeoutException:
        pass
    bars = drv.find_elements(By.CSS_SELECTOR, "#expiry-chart svg rect.bar")
    if len(bars) != 52:
        fail("the expiry chart has %d bars, want 52" % len(bars))
    if sum(float(b.get_attribute("height")) for b in bars[:3]) <= 0:
        fail("the expiry chart shows nothing in the first weeks (console-external expires in 20 days)")
    if "console-external" not in drv.find_element(By.ID, "expiring-table").text:
        fail("the 30-day list lacks console-external")
    shot("expiring")

    say("pending approvals: approve " + HELD)
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=approvals]").click()
    title_is("Pending approvals")
    row = None
    for _ in range(40):
        for r in drv.find_elements(By.CSS_SELECTOR, "#requests-table tbody tr"):
            if HELD in r.find_element(By.CSS_SELECTOR, "td.subject").text:
                row = r
        if row is not None:
            break
        time.sleep(0.5)
        drv.find_element(By.ID, "refresh").click()
        wait_css("#refresh", "the approvals view")
    if row is None:
        fail("the request of %s never appeared" % HELD)
    shot("approvals")
    rid = row.get_attribute("data-id")
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    confirm_dialog("Approve").click()
    try:
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#requests-table tr[data-id='%s']" % rid))
    except TimeoutException:
        no_error_box("approve")
        fail("request %s is still listed after approval" % rid)
    no_error_box("approve")
    shot("approvals-done")

    say("mint a challenge")
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=challenges]").click()
    title_is("One-time challenges")
    p = wait_css("#c-profile", "the challenge form")
    p.send_keys("held")
    drv.find_element(By.ID, "c-subject").send_keys("CN=console-next")
    shot("challenges")
    drv.find_element(By.ID, "mint").click()
    val = wait_css("#challenge-value", "the minted challenge")
    text = val.text.strip()
    if len(text) < 16 or not all(ch in "0123456789abcdef" for ch in text):
        fail("the challenge shown is %r" % text)
    if not drv.find_elements(By.ID, "copy-challenge"):
        fail("no copy button beside the challenge")
    wait.until(lambda d: "held" in d.find_element(By.ID, "challenge-list").text)
    if text in drv.find_element(By.ID, "challenge-list").text:
        fail("the challenge list shows a challenge's text")
    shot("challenge-minted")

    say("audit log with the chain's state")
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=audit]").click()
    title_is("Audit log")
    state = wait_css("#chain-state .badge", "the chain state")
    wait_css("#audit-table tbody tr", "the audit events")
    if state.text != "intact":
        fail("the audit chain is shown %s" % state.text)
    actors = drv.find_element(By.ID, "audit-table").text
    if "api:console-op" not in actors:
        # The first page is the oldest events; the console's are later.
        while drv.find_elements(By.ID, "audit-next"):
            drv.find_element(By.ID, "audit-next").click()
            wait_css("#audit-table", "the next audit page")
            if "api:console-op" in drv.find_element(By.ID, "audit-table").text:
                break
        if "api:console-op" not in drv.find_element(By.ID, "audit-table").text:
            fail("the audit log does not show the console's actions")
    shot("audit")

    say("CA health")
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=health]").click()
    title_is("CA health")
    wait_css("#ca-current .badge", "the current CA")
    wait_css("#store-health .badge", "the store's state")
    wait_css("#crl-health .badge", "the CRL's state")
    if drv.find_element(By.CSS_SELECTOR, "#ca-current .badge").text != "ok":
        fail("the current CA is not shown healthy")
    if drv.find_element(By.CSS_SELECTOR, "#store-health .badge").text != "ok":
        fail("the store is not shown healthy")
    if drv.find_element(By.CSS_SELECTOR, "#crl-health .badge").text != "ok":
        fail("the CRL is not shown current: " + drv.find_element(By.ID, "crl-health").text)
    if "Next update" not in drv.find_element(By.ID, "crl-health").text:
        fail("the CRL's next update is not shown")
    shot("health")

    say("a phone's width, and the keyboard")
    drv.set_window_size(390, 844)
    drv.find_element(By.CSS_SELECTOR, "#nav a[data-view=inventory]").click()
    title_is("Certificate inventory")
    wait_css("#inventory-table", "the inventory at phone width")
    width = drv.execute_script("return document.documentElement.scrollWidth")
    if width > 400:
        fail("the page is %d px wide at a 390 px viewport" % width)
    shot("inventory-phone")
    if drv.switch_to.active_element.get_attribute("id") != "view-title":
        fail("a view change does not move the focus to its heading")

    say("chromium's console log")
    errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
    if errors:
        fail("console errors: " + "; ".join(e.get("message", "") for e in errors))
    say("ok, screenshots: " + ", ".join(shots))
finally:
    drv.quit()
