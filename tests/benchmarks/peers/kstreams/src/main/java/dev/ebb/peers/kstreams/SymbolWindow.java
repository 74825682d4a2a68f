package dev.ebb.peers.kstreams;

import java.nio.ByteBuffer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The state of one symbol, as stored in the key-value store: its 30-day window reduced to what
 * the rolling peak needs, and its alert episode.
 *
 * <p>The window is a monotonic deque (the "ascending minima" algorithm, for maxima): the events
 * of (t - W, t] that no later event reaches or exceeds, oldest first, so prices strictly
 * decrease from front to back. The front is the peak (the latest of equal maxima). Each event is
 * pushed once and popped at most once: O(1) amortized per event, and the deque stays short on
 * price series (tens of entries for a 30-day hourly window), so storing it is cheap.
 */
final class SymbolWindow {
  private long[] times = new long[8];
  private double[] prices = new double[8];
  private int head;
  private int size;
  /** Time of the newest applied event; Long.MIN_VALUE before the first. */
  long newest = Long.MIN_VALUE;
  /** Time of the first applied event (for full_window). */
  long first = Long.MIN_VALUE;
  final DrawdownRule.Episode episode = new DrawdownRule.Episode();

  boolean isEmpty() {
    return newest == Long.MIN_VALUE;
  }

  int deque() {
    return size;
  }

  /** Applies an event at or after `newest`; returns the peak of (t - window, t]. */
  double add(long time, double price, long window) {
    while (size > 0 && prices[head + size - 1] <= price) --size;
    if (head + size == times.length) makeRoom();
    times[head + size] = time;
    prices[head + size] = price;
    ++size;
    final long edge = time - window;
    while (times[head] <= edge) {  // never the new event: its time is > edge
      ++head;
      --size;
    }
    if (first == Long.MIN_VALUE) first = time;
    newest = time;
    return prices[head];
  }

  long peakTime() {
    return times[head];
  }

  private void makeRoom() {
    if (size * 2 > times.length) {
      long[] t = new long[times.length * 2];
      double[] p = new double[times.length * 2];
      System.arraycopy(times, head, t, 0, size);
      System.arraycopy(prices, head, p, 0, size);
      times = t;
      prices = p;
    } else {
      System.arraycopy(times, head, times, 0, size);
      System.arraycopy(prices, head, prices, 0, size);
    }
    head = 0;
  }

  private static final int HEADER = 8 + 8 + 1 + 4 + 8 + 4;

  byte[] toBytes() {
    ByteBuffer b = ByteBuffer.allocate(HEADER + size * 16);
    b.putLong(newest).putLong(first);
    b.put((byte) (episode.active ? 1 : 0)).putInt(episode.reached).putLong(episode.start);
    b.putInt(size);
    for (int i = head; i < head + size; ++i) b.putLong(times[i]).putDouble(prices[i]);
    return b.array();
  }

  static SymbolWindow fromBytes(byte[] bytes) {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    SymbolWindow w = new SymbolWindow();
    w.newest = b.getLong();
    w.first = b.getLong();
    w.episode.active = b.get() != 0;
    w.episode.reached = b.getInt();
    w.episode.start = b.getLong();
    int n = b.getInt();
    if (n + 1 > w.times.length) {
      int capacity = Integer.highestOneBit(n + 1) * 2;
      w.times = new long[capacity];
      w.prices = new double[capacity];
    }
    for (int i = 0; i < n; ++i) {
      w.times[i] = b.getLong();
      w.prices[i] = b.getDouble();
    }
    w.size = n;
    return w;
  }

  static final class WindowSerde implements Serde<SymbolWindow> {
    @Override
    public Serializer<SymbolWindow> serializer() {
      return (topic, w) -> w == null ? null : w.toBytes();
    }

    @Override
    public Deserializer<SymbolWindow> deserializer() {
      return (topic, bytes) -> bytes == null ? null : fromBytes(bytes);
    }
  }
}
