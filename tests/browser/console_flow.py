"""Drives Debian's Chromium through the analyst console, as an NGO analyst
would, for tests/api/console_chromium.rs.

The browser runs with HOME set to a directory whose NSS database
($HOME/.pki/nssdb) trusts the test CA and holds the organization's
certificate and key (imported from its PKCS#12 file); a managed Chromium
policy (AutoSelectCertificateForUrls) makes it present that certificate
without asking. There is no other way in: no cookie, token or header is
given to the browser.

Usage: console_flow.py CONFIG.json. The config names the base URL, the
HOME, the chromium and chromedriver binaries, the screenshot directory, the
address to screen, and the mode ("handshake": open one URL; "console": the
whole flow). Prints one JSON object: the pages visited, each with its name,
URL, title, visible text and screenshot file. The Rust test asserts on it.
"""

import base64
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def browser(config):
    options = webdriver.ChromeOptions()
    options.binary_location = config["chromium"]
    for flag in [
        "--headless=new",
        "--no-sandbox",  # required as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        "--user-data-dir=" + os.path.join(config["home"], "profile"),
    ]:
        options.add_argument(flag)
    # HOME is where Chromium on Linux finds its NSS database; --user-data-dir
    # does not move it.
    service = Service(
        executable_path=config["chromedriver"],
        env={**os.environ, "HOME": config["home"]},
    )
    driver = webdriver.Chrome(service=service, options=options)
    # Without a selected certificate the page never loads (the certificate
    # picker waits): fail in seconds, not at the test's timeout.
    driver.set_page_load_timeout(30)
    return driver


class Flow:
    def __init__(self, config, driver):
        self.config = config
        self.driver = driver
        self.pages = []

    def url(self, path):
        return self.config["base_url"] + path

    def wait_for(self, selector):
        return WebDriverWait(self.driver, 15).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
        )

    def click(self, selector):
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def capture(self, name, element=None):
        """Screenshot of the whole page (or one element), and its text."""
        path = os.path.join(self.config["screenshots"], name + ".png")
        if element is None:
            # The full page, not only the window (Chromium's DevTools
            # protocol captures beyond the viewport).
            size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": size["width"],
                             "height": min(size["height"], 8000), "scale": 1},
                },
            )
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            text = self.driver.find_element(By.TAG_NAME, "body").text
        else:
            self.driver.execute_script("arguments[0].scrollIntoView()", element)
            element.screenshot(path)
            text = element.text or element.get_attribute("textContent")
        self.pages.append(
            {
                "name": name,
                "url": self.driver.current_url,
                "title": self.driver.title,
                "text": text,
                "html": None if element is None else element.get_attribute("outerHTML"),
                "screenshot": path,
            }
        )

    def handshake(self):
        self.driver.get(self.url(self.config["path"]))
        self.capture("handshake")

    def console(self):
        c = self.config
        # 1. Sign in: the browser presented the organization's certificate;
        #    the analyst picks the API client to work as.
        self.driver.get(self.url("/console/"))
        self.wait_for("#signin-form")
        self.capture("01-signin")
        self.click("#signin-submit")
        self.wait_for("#signout")

        # 2. Screen an address, typed as found (another case than stored).
        self.driver.get(self.url("/console/lookup"))
        field = self.wait_for("#lookup-input")
        field.clear()
        field.send_keys(c["address_typed"])
        self.click("#lookup-submit")
        self.wait_for("#screen-results")
        self.capture("02-lookup")

        # 3. Open the record it matched, and its graph.
        link = self.driver.find_element(
            By.XPATH, "//a[contains(@class,'record-link') and contains(@href,'%s')]" % c["record_id"]
        )
        link.click()
        self.wait_for("#record-title")
        self.capture("03-record")
        graph = self.wait_for("#record-graph")
        self.capture("04-graph", graph)

        # 4. Report a sighting of it, shared with the record's source only.
        self.click("#report-sighting")
        self.wait_for("#sighting-form")
        seen_at = self.driver.find_element(By.ID, "seen_at")
        self.driver.execute_script("arguments[0].value = arguments[1]", seen_at, c["seen_at"])
        count = self.driver.find_element(By.ID, "count")
        count.clear()
        count.send_keys("2")
        notes = self.driver.find_element(By.ID, "description")
        notes.send_keys(c["sighting_notes"])
        tlp = self.driver.find_element(By.ID, "tlp")
        tlp.find_element(By.CSS_SELECTOR, "option[value='amber']").click()
        organizations = self.driver.find_element(By.ID, "organizations")
        organizations.clear()
        organizations.send_keys(c["share_with"])
        self.capture("05-sighting-form")
        self.click("#sighting-submit")
        self.wait_for("#record-title")
        # The stored sighting's page confirms it was stored.
        self.wait_for("#record-created")
        self.capture("06-sighting-reported")

        # 5. Sign out; the console then asks to sign in again.
        self.click("#signout")
        self.wait_for("#signin-form")
        self.wait_for("#signed-out")
        self.capture("07-signed-out")
        self.driver.get(self.url("/console/lookup"))
        self.capture("08-after-signout")


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    os.makedirs(config["screenshots"], exist_ok=True)
    driver = browser(config)
    flow = Flow(config, driver)
    try:
        getattr(flow, config["mode"])()
    except Exception as error:  # report where it stopped, with what was seen
        try:
            seen = driver.find_element(By.TAG_NAME, "body").text
        except Exception as unreadable:
            seen = repr(unreadable)
        print(json.dumps({"error": repr(error), "url": driver.current_url, "pages": flow.pages,
                          "text": seen}))
        driver.quit()
        sys.exit(1)
    driver.quit()
    print(json.dumps({"pages": flow.pages}))


if __name__ == "__main__":
    main()
