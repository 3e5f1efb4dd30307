#!/usr/bin/python3
"""`raftkv demo --web` told on the page, in headless Chromium (issue 19).

Runs the demo with --web and no terminal (so it pauses --step-pause-ms after each step, as it
does headless), opens the page it prints, and checks that the page showed each of the demo's
steps from the second on (the first is over when the URL is printed, and shows only while the
page loads), that it showed the failover (a second leader, in a later term), that it narrated
the election, and that the demo itself passed. Screenshots go to --out.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from web_view_test import Failed, nodes, shot, start_browser, wait_for

STEPS = 7


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--raftkv', required=True)
    parser.add_argument('--server', required=True)
    parser.add_argument('--out', required=True, help='directory for the screenshots')
    parser.add_argument('--base-port', type=int, default=23450)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='raftkv-browser-demo-')
    base = args.base_port
    output_path = os.path.join(workdir, 'demo.out')
    output = open(output_path, 'w')
    # The browser first: on a loaded machine it takes seconds to start, and the demo will not
    # wait for it.
    started = time.monotonic()
    driver = start_browser(workdir)
    print(f'browser started in {time.monotonic() - started:.1f} s')
    demo = subprocess.Popen(
        [args.raftkv, 'demo', '--web', '--step-pause-ms', '3000', '--dir',
         os.path.join(workdir, 'cluster'), '--server', args.server, '--base-peer-port', str(base),
         '--base-client-port', str(base + 10), '--base-http-port', str(base + 20),
         '--heartbeat-ms', '100', '--election-ms', '1000'],
        stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)

    def demo_output():
        with open(output_path) as out:
            return out.read()

    def url():
        for line in demo_output().splitlines():
            if 'watch it live' in line:
                return line.split(': ', 1)[1].strip()
        if demo.poll() is not None:
            raise Failed(f'the demo ended before printing its URL:\n{demo_output()}')
        return None

    try:
        page = wait_for('the demo printing its page URL', url, 60)
        print(f'page: {page}')
        driver.get(page)
        steps_seen = set()
        terms_led = set()
        deadline = time.monotonic() + 150
        while demo.poll() is None and time.monotonic() < deadline:
            step = driver.execute_script(
                "const s = document.getElementById('demo-step'); return s.hidden ? '' : "
                "s.textContent;")
            if step and step not in steps_seen:
                steps_seen.add(step)
                print(f'  the page shows "{step}"')
                if step.startswith('Step 4'):
                    time.sleep(1.5)  # Let the failover show before the picture.
                    shot(driver, args.out, 'demo-step-4-failover.png')
            terms_led.update(n['term'] for n in nodes(driver)
                             if n['role'] == 'leader' and n['state'] == 'up')
            time.sleep(0.1)
        narration = driver.find_element('id', 'narration').text
        demo.wait(30)
        print(f'demo exited with {demo.returncode}; the page showed leaders in terms '
              f'{sorted(terms_led)}')
        if demo.returncode != 0 or 'demo passed' not in demo_output():
            raise Failed(f'the demo failed:\n{demo_output()}')
        shown = {s.split(':')[0] for s in steps_seen}
        missing = [f'Step {i}' for i in range(2, STEPS + 1) if f'Step {i}' not in shown]
        if missing:
            raise Failed(f'the page never showed {missing}; it showed {sorted(steps_seen)}')
        if len(terms_led) < 2:
            raise Failed(f'the page should show the failover to a later term: {terms_led}')
        if 'won the election' not in narration:
            raise Failed(f'the page did not narrate the election:\n{narration}')
        print('demo on the web view: all 4 checks passed')
        return 0
    except Failed as failure:
        print(f'FAILED: {failure}')
        shot(driver, args.out, 'demo-failure.png')
        return 1
    finally:
        driver.quit()
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        output.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
