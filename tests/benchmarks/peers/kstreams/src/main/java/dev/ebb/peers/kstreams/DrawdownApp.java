package dev.ebb.peers.kstreams;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * ebb's drawdown job as a Kafka Streams application (Processor API): ebb.prices in, ebb.v1.Alert
 * out. Usage:
 *
 * <pre>
 *   java -cp 'target/classes:target/lib/*' dev.ebb.peers.kstreams.DrawdownApp --brokers B
 *       [--input ebb.prices] [--output peers.kstreams.alerts] [--application-id peers-kstreams]
 *       [--store memory|rocksdb] [--state-dir DIR] [--threads 1] [--exit-when-idle SECONDS]
 * </pre>
 *
 * With --exit-when-idle it closes (committing) once it has processed events and none arrived
 * for that long, and prints its counters and process CPU time on stderr; it fails when no event
 * arrives within 120 s of the start.
 */
public final class DrawdownApp {
  /** With --exit-when-idle: give up when no event arrived this long after the start. */
  private static final long FIRST_EVENT_TIMEOUT_NANOS = 120_000_000_000L;

  private DrawdownApp() {}

  static Topology topology(String input, String output, boolean rocksdb,
      DrawdownProcessor.Counters counters) {
    StoreBuilder<KeyValueStore<String, SymbolWindow>> store = Stores.keyValueStoreBuilder(
            rocksdb ? Stores.persistentKeyValueStore(DrawdownProcessor.STORE)
                    : Stores.inMemoryKeyValueStore(DrawdownProcessor.STORE),
            Serdes.String(), new SymbolWindow.WindowSerde())
        .withCachingEnabled();
    Topology topology = new Topology();
    topology.addSource("prices", Serdes.String().deserializer(),
        Serdes.ByteArray().deserializer(), input);
    topology.addProcessor("drawdown", () -> new DrawdownProcessor(counters), "prices");
    topology.addStateStore(store, "drawdown");
    topology.addSink("alerts", output, Serdes.String().serializer(),
        Serdes.ByteArray().serializer(), "drawdown");
    return topology;
  }

  /** User + system CPU time of this process (all threads), in ns. */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
        ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  public static void main(String[] args) throws InterruptedException {
    String brokers = null;
    String input = "ebb.prices";
    String output = "peers.kstreams.alerts";
    String applicationId = "peers-kstreams";
    String stateDir = null;
    boolean rocksdb = false;
    int threads = 1;
    double idleSeconds = 0;
    for (int i = 0; i < args.length; ++i) {
      String flag = args[i];
      if (i + 1 >= args.length) usage("missing value for " + flag);
      String value = args[++i];
      switch (flag) {
        case "--brokers" -> brokers = value;
        case "--input" -> input = value;
        case "--output" -> output = value;
        case "--application-id" -> applicationId = value;
        case "--state-dir" -> stateDir = value;
        case "--threads" -> threads = Integer.parseInt(value);
        case "--exit-when-idle" -> idleSeconds = Double.parseDouble(value);
        case "--store" -> {
          if (!value.equals("memory") && !value.equals("rocksdb")) {
            usage("--store is memory or rocksdb, not " + value);
          }
          rocksdb = value.equals("rocksdb");
        }
        default -> usage("unknown flag " + flag);
      }
    }
    if (brokers == null) usage("--brokers is required");

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    props.put("processing.exception.handler.global.enabled", true);
    if (stateDir != null) props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);

    DrawdownProcessor.Counters counters = new DrawdownProcessor.Counters();
    KafkaStreams streams = new KafkaStreams(topology(input, output, rocksdb, counters), props);
    Thread closer = new Thread(() -> streams.close(Duration.ofSeconds(60)));
    Runtime.getRuntime().addShutdownHook(closer);
    streams.start();

    if (idleSeconds > 0) {
      final long started = System.nanoTime();
      long last = -1;
      long lastChange = started;
      while (true) {
        Thread.sleep(100);
        long seen = counters.applied.get() + counters.rejected.get() + counters.late.get();
        if (seen != last) {
          last = seen;
          lastChange = System.nanoTime();
        } else if (seen > 0 && System.nanoTime() - lastChange > idleSeconds * 1e9) {
          break;
        }
        if (seen == 0 && System.nanoTime() - started > FIRST_EVENT_TIMEOUT_NANOS) {
          System.err.printf("peers-kstreams: no event within %d s of start (state %s)%n",
              FIRST_EVENT_TIMEOUT_NANOS / 1_000_000_000L, streams.state());
          streams.close(Duration.ofSeconds(10));
          System.exit(1);
        }
        if (streams.state() == KafkaStreams.State.ERROR) {
          System.err.println("peers-kstreams: the streams client is in state ERROR");
          System.exit(1);
        }
      }
      Runtime.getRuntime().removeShutdownHook(closer);
      streams.close(Duration.ofSeconds(60));
      System.err.printf("peers-kstreams: %d events applied, %d rejected, %d late, %d alerts;"
              + " process CPU %.3f s, %.3f s of it before the first event%n",
          counters.applied.get(), counters.rejected.get(), counters.late.get(),
          counters.alerts.get(), processCpuNanos() / 1e9,
          counters.cpuAtFirstEvent.get() / 1e9);
    } else {
      Thread.currentThread().join();
    }
  }

  private static void usage(String message) {
    System.err.println("peers-kstreams: " + message);
    System.exit(2);
  }
}
