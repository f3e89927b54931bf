/** Fresh user ids per test (`alice-3`, `bob-3`), so tests sharing a server never see each other's state. */
export function userFactory() {
  let n = 0;
  return (...names: string[]) => {
    n++;
    return names.map((name) => `${name}-${n}`);
  };
}
