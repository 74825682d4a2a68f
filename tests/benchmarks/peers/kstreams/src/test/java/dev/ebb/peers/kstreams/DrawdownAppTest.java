package dev.ebb.peers.kstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import ebb.v1.AlertOuterClass.Alert;
import ebb.v1.AlertOuterClass.Severity;
import ebb.v1.AlertOuterClass.Transition;
import ebb.v1.Events.PriceEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Kafka Streams peer against ebb's own answers: the expected alerts (ids included) are what
 * `ebb replay --resolution exact` prints for the same prices.
 */
class DrawdownAppTest {
  private TopologyTestDriver driver;
  private TestInputTopic<String, byte[]> prices;
  private TestOutputTopic<String, byte[]> alerts;
  private final DrawdownProcessor.Counters counters = new DrawdownProcessor.Counters();

  @BeforeEach
  void setUp() {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    driver = new TopologyTestDriver(
        DrawdownApp.topology("ebb.prices", "alerts", false, counters), props);
    prices = driver.createInputTopic("ebb.prices", Serdes.String().serializer(),
        Serdes.ByteArray().serializer());
    alerts = driver.createOutputTopic("alerts", Serdes.String().deserializer(),
        Serdes.ByteArray().deserializer());
  }

  @AfterEach
  void tearDown() {
    driver.close();
  }

  private void send(String symbol, String time, double price) {
    Instant t = Instant.parse(time);
    PriceEvent event = PriceEvent.newBuilder().setSymbol(symbol).setPrice(price)
        .setEventTime(Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()))
        .build();
    prices.pipeInput(symbol, event.toByteArray());
  }

  private List<Alert> drain() throws InvalidProtocolBufferException {
    List<Alert> out = new ArrayList<>();
    while (!alerts.isEmpty()) out.add(Alert.parseFrom(alerts.readValue()));
    return out;
  }

  private static void check(Alert a, String id, Transition transition, double level,
      double value, double price, String time) {
    assertEquals(id, a.getId());
    assertEquals(transition, a.getTransition());
    assertEquals(level, a.getLevel());
    assertEquals(value, a.getValue());
    assertEquals(price, a.getPrice());
    assertEquals(Instant.parse(time).getEpochSecond(), a.getEventTime().getSeconds());
  }

  @Test
  void opensEscalatesAndResolvesLikeEbb() throws Exception {
    send("AAA", "2025-01-01T00:00:00Z", 100);
    send("AAA", "2025-01-01T01:00:00Z", 90);
    send("AAA", "2025-01-01T02:00:00Z", 85);
    send("AAA", "2025-01-01T03:00:00Z", 80);
    send("AAA", "2025-01-01T04:00:00Z", 95);
    List<Alert> got = drain();
    assertEquals(4, got.size());
    check(got.get(0), "62f8d330956b2ebdaba1a2625e7d68ad", Transition.OPENED, 0.1,
        0.09999999999999998, 90, "2025-01-01T01:00:00Z");
    check(got.get(1), "5ad09d3090f1203ba29fec62594a8feb", Transition.ESCALATED, 0.15,
        0.15000000000000002, 85, "2025-01-01T02:00:00Z");
    check(got.get(2), "5ad09e3090f121eea29fed62594a919e", Transition.ESCALATED, 0.2,
        0.19999999999999996, 80, "2025-01-01T03:00:00Z");
    assertEquals(Severity.CRITICAL, got.get(2).getSeverity());
    check(got.get(3), "51cee7308bbe47799a77b66254d08169", Transition.RESOLVED, 0.2,
        0.050000000000000044, 95, "2025-01-01T04:00:00Z");
    assertEquals("AAA", got.get(3).getSymbol());
    assertEquals(100, got.get(3).getPeak().getPrice());
  }

  @Test
  void aJumpOpensAtTheHighestLevelAndThePeakLeavesTheWindowAfter30Days() throws Exception {
    send("BBB", "2025-01-01T00:00:00Z", 100);
    send("BBB", "2025-01-01T01:00:00Z", 80);
    send("BBB", "2025-01-02T00:00:00Z", 85);
    send("BBB", "2025-01-31T00:00:00Z", 84);  // (t - 30d, t] no longer holds the 100
    send("BBB", "2025-01-31T01:00:00Z", 84);
    send("BBB", "2025-02-01T00:00:00Z", 84);
    List<Alert> got = drain();
    assertEquals(2, got.size());
    check(got.get(0), "1bb4aa3a6d61236ee69753a06d9517de", Transition.OPENED, 0.2,
        0.19999999999999996, 80, "2025-01-01T01:00:00Z");
    assertFalse(got.get(0).getFullWindow());
    check(got.get(1), "2cdef43a770eaa6cf7c19da077429edc", Transition.RESOLVED, 0.2,
        0.0117647058823529, 84, "2025-01-31T00:00:00Z");
    assertEquals(85, got.get(1).getPeak().getPrice());
    assertTrue(got.get(1).getFullWindow());
  }

  @Test
  void lateAndInvalidEventsAreCountedAndNotApplied() throws Exception {
    send("CCC", "2025-01-01T02:00:00Z", 100);
    send("CCC", "2025-01-01T01:00:00Z", 50);  // late: would open at 0.20 if applied
    send("CCC", "2025-01-01T03:00:00Z", -1);
    prices.pipeInput("CCC", new byte[] {(byte) 0xff});
    assertTrue(drain().isEmpty());
    assertEquals(1, counters.applied.get());
    assertEquals(1, counters.late.get());
    assertEquals(2, counters.rejected.get());
  }

  @Test
  void theMonotonicDequeSurvivesTheStoreAndEqualsABruteForcePeak() throws Exception {
    // A random walk of 3,000 hourly prices for 3 symbols: every drawdown the peer reports equals
    // 1 - price / max(prices in (t - 30d, t]) computed directly.
    java.util.Random random = new java.util.Random(16);
    String[] symbols = {"R1", "R2", "R3"};
    List<List<double[]>> history = new ArrayList<>();
    double[] last = {100, 100, 100};
    for (int s = 0; s < 3; ++s) history.add(new ArrayList<>());
    long start = Instant.parse("2025-01-01T00:00:00Z").getEpochSecond();
    int checked = 0;
    for (int i = 0; i < 3000; ++i) {
      for (int s = 0; s < 3; ++s) {
        last[s] *= Math.exp(random.nextGaussian() * 0.02);
        long t = start + 3600L * i;
        history.get(s).add(new double[] {t, last[s]});
        send(symbols[s], Instant.ofEpochSecond(t).toString(), last[s]);
        for (Alert a : drain()) {
          double peak = 0;
          for (double[] e : history.get(s)) {
            if (e[0] > t - 30L * 86400) peak = Math.max(peak, e[1]);
          }
          assertEquals(symbols[s], a.getSymbol());
          assertEquals(1.0 - last[s] / peak, a.getValue());
          assertEquals(peak, a.getPeak().getPrice());
          ++checked;
        }
      }
    }
    assertTrue(checked > 20, "only " + checked + " alerts");
  }
}
