// Makes mongo-1, mongo-2 and mongo-3 the replica set rs0 (docker-compose.yml's one-shot mongo-init),
// so that majority write concern and transactions work as in production, then waits until the set
// has a primary: the services start only after this script exits 0. Running it again changes nothing.
const members = ["mongo-1:27017", "mongo-2:27017", "mongo-3:27017"];
try {
  rs.status();
} catch (e) {
  // NotYetInitialized: the first start of the volumes.
  rs.initiate({ _id: "rs0", members: members.map((host, i) => ({ _id: i, host: host })) });
}
for (let waited = 0; ; waited += 1) {
  const hello = db.adminCommand({ hello: 1 });
  if (hello.primary) {
    print(`replica set rs0: primary ${hello.primary}, ${hello.hosts.length} members`);
    break;
  }
  if (waited >= 120) {
    throw new Error("replica set rs0 has no primary after 60 s");
  }
  sleep(500);
}
