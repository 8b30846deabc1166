// GET a JSON resource of the monitor's API with the session cookie.

/** The parsed body of a 200 answer; undefined for any other status, a network failure or bad JSON. */
export async function fetchJson(url) {
  try {
    const res = await fetch(url, {
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (res.status !== 200) return undefined;
    return await res.json();
  } catch {
    return undefined;
  }
}
