// Parses and semantically checks KQL with Microsoft's Kusto.Language (the parser behind the
// Sentinel and ADX editors), against the Sentinel tables c2tap's queries read.
//
// stdin:  JSON [{"name": "...", "query": "..."}]
// stdout: JSON [{"name": "...", "diagnostics": [{"severity", "code", "message", "start", "length"}],
//                "columns": {"CommonSecurityLog": [...], "DeviceNetworkEvents": [...],
//                            "DnsEvents": [...]}}]
// `columns` are the declared table columns the query reads, as Kusto's binder resolved them:
// what the caller compares with the fields c2tap emits.
// Exit status 0 whenever the input could be checked; judging the diagnostics is the caller's job.

'use strict';

require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');

const K = globalThis.Kusto.Language;
const S = K.Symbols;

// CommonSecurityLog as documented in the Azure Monitor table reference (column types matter:
// DestinationPort is int, ReceivedBytes long, StartTime datetime, ...).
const COMMON_SECURITY_LOG = [
  'TenantId:string', 'TimeGenerated:datetime', 'Activity:string', 'AdditionalExtensions:string',
  'ApplicationProtocol:string', 'CollectorHostName:string', 'CommunicationDirection:string',
  'Computer:string', 'DestinationDnsDomain:string', 'DestinationHostName:string',
  'DestinationIP:string', 'DestinationMACAddress:string', 'DestinationNTDomain:string',
  'DestinationPort:int', 'DestinationProcessId:int', 'DestinationProcessName:string',
  'DestinationServiceName:string', 'DestinationTranslatedAddress:string',
  'DestinationTranslatedPort:int', 'DestinationUserID:string', 'DestinationUserName:string',
  'DestinationUserPrivileges:string', 'DeviceAction:string', 'DeviceAddress:string',
  'DeviceCustomDate1:string', 'DeviceCustomDate1Label:string', 'DeviceCustomDate2:string',
  'DeviceCustomDate2Label:string',
  'DeviceCustomFloatingPoint1:real', 'DeviceCustomFloatingPoint1Label:string',
  'DeviceCustomFloatingPoint2:real', 'DeviceCustomFloatingPoint2Label:string',
  'DeviceCustomFloatingPoint3:real', 'DeviceCustomFloatingPoint3Label:string',
  'DeviceCustomFloatingPoint4:real', 'DeviceCustomFloatingPoint4Label:string',
  'DeviceCustomIPv6Address1:string', 'DeviceCustomIPv6Address1Label:string',
  'DeviceCustomIPv6Address2:string', 'DeviceCustomIPv6Address2Label:string',
  'DeviceCustomIPv6Address3:string', 'DeviceCustomIPv6Address3Label:string',
  'DeviceCustomIPv6Address4:string', 'DeviceCustomIPv6Address4Label:string',
  'DeviceCustomNumber1:int', 'DeviceCustomNumber1Label:string',
  'DeviceCustomNumber2:int', 'DeviceCustomNumber2Label:string',
  'DeviceCustomNumber3:int', 'DeviceCustomNumber3Label:string',
  'DeviceCustomString1:string', 'DeviceCustomString1Label:string',
  'DeviceCustomString2:string', 'DeviceCustomString2Label:string',
  'DeviceCustomString3:string', 'DeviceCustomString3Label:string',
  'DeviceCustomString4:string', 'DeviceCustomString4Label:string',
  'DeviceCustomString5:string', 'DeviceCustomString5Label:string',
  'DeviceCustomString6:string', 'DeviceCustomString6Label:string',
  'DeviceDnsDomain:string', 'DeviceEventCategory:string', 'DeviceEventClassID:string',
  'DeviceExternalID:string', 'DeviceFacility:string', 'DeviceInboundInterface:string',
  'DeviceMacAddress:string', 'DeviceName:string', 'DeviceNtDomain:string',
  'DeviceOutboundInterface:string', 'DevicePayloadId:string', 'DeviceProduct:string',
  'DeviceTimeZone:string', 'DeviceTranslatedAddress:string', 'DeviceVendor:string',
  'DeviceVersion:string', 'EndTime:datetime', 'EventCount:int', 'EventOutcome:string',
  'EventType:int', 'ExternalID:int', 'ExtID:string',
  'FieldDeviceCustomNumber1:long', 'FieldDeviceCustomNumber2:long',
  'FieldDeviceCustomNumber3:long', 'FileCreateTime:string', 'FileHash:string', 'FileID:string',
  'FileModificationTime:string', 'FileName:string', 'FilePath:string', 'FilePermission:string',
  'FileSize:int', 'FileType:string', 'FlexDate1:string', 'FlexDate1Label:string',
  'FlexNumber1:int', 'FlexNumber1Label:string', 'FlexNumber2:int', 'FlexNumber2Label:string',
  'FlexString1:string', 'FlexString1Label:string', 'FlexString2:string',
  'FlexString2Label:string', 'IndicatorThreatType:string', 'LogSeverity:string',
  'MaliciousIP:string', 'MaliciousIPCountry:string', 'MaliciousIPLatitude:real',
  'MaliciousIPLongitude:real', 'Message:string', 'OldFileCreateTime:string',
  'OldFileHash:string', 'OldFileID:string', 'OldFileModificationTime:string',
  'OldFileName:string', 'OldFilePath:string', 'OldFilePermission:string', 'OldFileSize:int',
  'OldFileType:string', 'OriginalLogSeverity:string', 'ProcessID:int', 'ProcessName:string',
  'Protocol:string', 'Reason:string', 'ReceiptTime:string', 'ReceivedBytes:long',
  'RemoteIP:string', 'RemotePort:string', 'ReportReferenceLink:string',
  'RequestClientApplication:string', 'RequestContext:string', 'RequestCookies:string',
  'RequestMethod:string', 'RequestURL:string', 'SentBytes:long',
  'SimplifiedDeviceAction:string', 'SourceDnsDomain:string', 'SourceHostName:string',
  'SourceIP:string', 'SourceMACAddress:string', 'SourceNTDomain:string', 'SourcePort:int',
  'SourceProcessId:int', 'SourceProcessName:string', 'SourceServiceName:string',
  'SourceSystem:string', 'SourceTranslatedAddress:string', 'SourceTranslatedPort:int',
  'SourceUserID:string', 'SourceUserName:string', 'SourceUserPrivileges:string',
  'StartTime:datetime', 'ThreatConfidence:int', 'ThreatDescription:string',
  'ThreatSeverity:int', 'Type:string', '_ResourceId:string',
];

// DeviceNetworkEvents as Sentinel stores it (Defender XDR connector): the advanced-hunting
// columns plus TimeGenerated.
const DEVICE_NETWORK_EVENTS = [
  'TenantId:string', 'TimeGenerated:datetime', 'Timestamp:datetime', 'DeviceId:string',
  'DeviceName:string', 'ActionType:string', 'RemoteIP:string', 'RemotePort:int',
  'RemoteUrl:string', 'LocalIP:string', 'LocalPort:int', 'Protocol:string',
  'LocalIPType:string', 'RemoteIPType:string', 'InitiatingProcessSHA1:string',
  'InitiatingProcessSHA256:string', 'InitiatingProcessMD5:string',
  'InitiatingProcessFileName:string', 'InitiatingProcessFileSize:long',
  'InitiatingProcessVersionInfoCompanyName:string',
  'InitiatingProcessVersionInfoProductName:string',
  'InitiatingProcessVersionInfoProductVersion:string',
  'InitiatingProcessVersionInfoInternalFileName:string',
  'InitiatingProcessVersionInfoOriginalFileName:string',
  'InitiatingProcessVersionInfoFileDescription:string', 'InitiatingProcessId:long',
  'InitiatingProcessCommandLine:string', 'InitiatingProcessCreationTime:datetime',
  'InitiatingProcessFolderPath:string', 'InitiatingProcessParentId:long',
  'InitiatingProcessParentFileName:string', 'InitiatingProcessParentCreationTime:datetime',
  'InitiatingProcessAccountDomain:string', 'InitiatingProcessAccountName:string',
  'InitiatingProcessAccountSid:string', 'InitiatingProcessAccountUpn:string',
  'InitiatingProcessAccountObjectId:string', 'InitiatingProcessIntegrityLevel:string',
  'InitiatingProcessTokenElevation:string', 'InitiatingProcessRemoteSessionDeviceName:string',
  'InitiatingProcessRemoteSessionIP:string', 'InitiatingProcessUniqueId:string',
  'ReportId:long', 'AppGuardContainerId:string', 'AdditionalFields:dynamic',
  'SourceSystem:string', 'Type:string', 'MachineGroup:string',
];

// DnsEvents (Windows DNS server logs through the DNS connector) as the Azure Monitor table
// reference lists it.
const DNS_EVENTS = [
  'TenantId:string', 'TimeGenerated:datetime', 'SourceSystem:string', 'Computer:string',
  'EventId:int', 'SubType:string', 'ClientIP:string', 'Name:string', 'IPAddresses:string',
  'QueryType:string', 'Result:string', 'ResultCode:int', 'MaliciousIP:string',
  'IndicatorThreatType:string', 'Description:string', 'Confidence:string', 'Severity:int',
  'Message:string', 'TaskCategory:string', 'Type:string',
];

// `_GetWatchlist(alias)` as Sentinel defines it: the watchlist's own columns (c2tap's
// watchlist file, `c2tap kql --watchlist`) beside SearchKey and the item metadata. Values come
// back untyped from the watchlist item, hence dynamic. tests/sentinel_kql.rs checks this list
// against the columns c2tap writes.
const C2TAP_WATCHLIST = ['IocValue', 'Address', 'Port', 'Network', 'Malware', 'ThreatType', 'Confidence', 'FirstSeen', 'LastSeen', 'Source', 'Domain', 'Url'];
const GET_WATCHLIST = new S.FunctionSymbol.$ctor16(
  '_GetWatchlist',
  '(watchlistAlias:string)',
  '{ datatable(_DTItemId:string, LastUpdatedTimeUTC:datetime, SearchKey:string, ' +
    C2TAP_WATCHLIST.map((c) => c + ':dynamic').join(', ') + ')[] }',
  null,
);

function table(name, columns) {
  return new S.TableSymbol.$ctor7(name, '(' + columns.join(', ') + ')', null);
}

const tables = [
  table('CommonSecurityLog', COMMON_SECURITY_LOG),
  table('DeviceNetworkEvents', DEVICE_NETWORK_EVENTS),
  table('DnsEvents', DNS_EVENTS),
];
const database = new S.DatabaseSymbol.$ctor2('sentinel', null, [...tables, GET_WATCHLIST]);
const globals = K.GlobalState.Default.WithDatabase(database);

function check(query) {
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const list = code.GetDiagnostics();
  const out = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    out.push({
      severity: String(d.Severity),
      code: String(d.Code),
      message: String(d.Message),
      start: d.Start,
      length: d.Length,
    });
  }
  return { diagnostics: out, columns: columnsRead(code) };
}

/** Declared columns the query references, by table. */
function columnsRead(code) {
  const owner = new Map();
  for (const t of tables) {
    for (let i = 0; i < t.Columns.Count; i++) {
      owner.set(t.Columns.getItem(i), t.Name);
    }
  }
  const read = {};
  for (const t of tables) {
    read[t.Name] = new Set();
  }
  code.Syntax.WalkElements((element) => {
    const symbol = element.ReferencedSymbol;
    if (symbol && owner.has(symbol)) {
      read[owner.get(symbol)].add(String(symbol.Name));
    }
  });
  const out = {};
  for (const name of Object.keys(read)) {
    out[name] = [...read[name]].sort();
  }
  return out;
}

function main() {
  const input = require('fs').readFileSync(0, 'utf8');
  const queries = JSON.parse(input);
  if (!Array.isArray(queries)) {
    throw new Error('expected a JSON array of {name, query}');
  }
  const results = queries.map((q) => ({ name: q.name, ...check(String(q.query)) }));
  process.stdout.write(JSON.stringify(results));
}

main();
