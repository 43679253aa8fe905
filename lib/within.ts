// Waiting for a promise at most so long: its value, its error, or word that it was late (the promise itself runs on).

/** Settles with the promise's value (or rejects with its error) if it settles within `ms`; otherwise with LATE. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const LATE: unique symbol = Symbol('late');
