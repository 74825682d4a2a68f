package dev.ebb.peers.kstreams;

import com.google.protobuf.Duration;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import ebb.v1.AlertOuterClass.Alert;
import ebb.v1.AlertOuterClass.Provenance;
import ebb.v1.AlertOuterClass.Severity;
import ebb.v1.AlertOuterClass.Transition;
import ebb.v1.Events.PriceEvent;
import ebb.v1.Metrics.PricePoint;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per price event: load the symbol's window from the store, apply the event, compute the
 * drawdown from the rolling 30-day peak, run ebb's default rule, store the window, forward an
 * ebb.v1.Alert (key: the symbol) on a transition.
 */
final class DrawdownProcessor implements Processor<String, byte[], String, byte[]> {
  static final String STORE = "drawdown-windows";
  static final long NANOS_PER_SECOND = 1_000_000_000L;
  static final long WINDOW_NANOS = 30L * 86_400 * NANOS_PER_SECOND;
  private static final Severity[] SEVERITIES = {Severity.WARNING, Severity.WARNING,
      Severity.CRITICAL};

  /** Counters shared by the application's threads (the app prints them). */
  static final class Counters {
    final AtomicLong applied = new AtomicLong();
    final AtomicLong rejected = new AtomicLong();
    final AtomicLong late = new AtomicLong();
    final AtomicLong alerts = new AtomicLong();
    /** Process CPU time (ns) when the first event arrived; -1 before. */
    final AtomicLong cpuAtFirstEvent = new AtomicLong(-1);
  }

  private final Counters counters;
  private ProcessorContext<String, byte[]> context;
  private KeyValueStore<String, SymbolWindow> store;

  DrawdownProcessor(Counters counters) {
    this.counters = counters;
  }

  @Override
  public void init(ProcessorContext<String, byte[]> context) {
    this.context = context;
    this.store = context.getStateStore(STORE);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    if (counters.cpuAtFirstEvent.get() < 0) {
      counters.cpuAtFirstEvent.compareAndSet(-1, DrawdownApp.processCpuNanos());
    }
    PriceEvent event;
    try {
      event = PriceEvent.parseFrom(record.value());
    } catch (InvalidProtocolBufferException | NullPointerException e) {
      counters.rejected.incrementAndGet();
      return;
    }
    final String symbol = event.getSymbol();
    final double price = event.getPrice();
    if (symbol.isEmpty() || !symbol.equals(record.key()) || !(price > 0)
        || Double.isInfinite(price) || !event.hasEventTime()) {
      counters.rejected.incrementAndGet();
      return;
    }
    final long time = event.getEventTime().getSeconds() * NANOS_PER_SECOND
        + event.getEventTime().getNanos();
    SymbolWindow window = store.get(symbol);
    if (window == null) {
      window = new SymbolWindow();
    } else if (time < window.newest) {
      counters.late.incrementAndGet();
      return;
    }
    final double peak = window.add(time, price, WINDOW_NANOS);
    final double drawdown = 1.0 - price / peak;
    final DrawdownRule.Outcome outcome = DrawdownRule.evaluate(drawdown, time, window.episode);
    store.put(symbol, window);
    counters.applied.incrementAndGet();
    if (outcome != null) {
      counters.alerts.incrementAndGet();
      Alert alert = buildAlert(event, time, drawdown, peak, window, outcome);
      context.forward(record.withValue(alert.toByteArray()));
    }
  }

  private Alert buildAlert(PriceEvent event, long time, double drawdown, double peak,
      SymbolWindow window, DrawdownRule.Outcome outcome) {
    final int level = outcome.levelIndex();
    Alert.Builder alert = Alert.newBuilder()
        .setId(AlertIds.alertId(event.getSymbol(), DrawdownRule.NAME, outcome.episodeStart(),
            outcome.transition(), level))
        .setSymbol(event.getSymbol())
        .setRule(DrawdownRule.NAME)
        .setTransition(Transition.forNumber(outcome.transition()))
        .setLevel(DrawdownRule.LEVELS[level])
        .setSeverity(SEVERITIES[level])
        .setMetric("drawdown")
        .setValue(drawdown)
        .setPrice(event.getPrice())
        .setEventTime(event.getEventTime())
        .setEpisodeStart(timestamp(outcome.episodeStart()))
        .setPeak(PricePoint.newBuilder().setPrice(peak).setTime(timestamp(window.peakTime())))
        .setWindow(Duration.newBuilder().setSeconds(WINDOW_NANOS / NANOS_PER_SECOND))
        .setFullWindow(window.first <= time - WINDOW_NANOS);
    Provenance.Builder provenance = alert.getProvenanceBuilder().setEventId(event.getEventId());
    context.recordMetadata().ifPresent((RecordMetadata m) -> provenance.setSource(m.topic())
        .setPartition(m.partition()).setOffset(m.offset()));
    return alert.build();
  }

  private static Timestamp timestamp(long nanos) {
    return Timestamp.newBuilder().setSeconds(Math.floorDiv(nanos, NANOS_PER_SECOND))
        .setNanos((int) Math.floorMod(nanos, NANOS_PER_SECOND)).build();
  }
}
