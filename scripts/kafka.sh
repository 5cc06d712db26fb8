#!/usr/bin/env bash
# Fetches Apache Kafka's broker (kafka_2.13, KRaft) and its dependencies from Maven Central
# into .cache/kafka/libs, once. The test fixtures start it with the machine's Java 17:
#   java -cp '.cache/kafka/libs/*' kafka.Kafka server.properties
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
libs="$root/.cache/kafka/libs"
if [ -f "$libs/.complete" ]; then
  exit 0
fi
command -v java >/dev/null || { echo "Java 17+ is needed to run the Kafka broker for tests" >&2; exit 1; }
command -v mvn >/dev/null || { echo "Maven is needed to fetch the Kafka broker jars" >&2; exit 1; }
rm -rf "$libs"
echo "fetching the Kafka broker from Maven Central into $libs" >&2
mvn -q -B -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs"
touch "$libs/.complete"
