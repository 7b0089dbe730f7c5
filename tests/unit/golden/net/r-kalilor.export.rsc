/system identity set name=r-kalilor
/system note set note="PERINGATAN: perangkat milik Dinas Komunikasi dan Informatika Kabupaten Contoh. Hanya untuk petugas yang berwenang; setiap akses dicatat dan dipantau. WARNING: authorised users only; all access is logged." show-at-login=yes
/ip address add address=10.251.0.234/30 interface=ether1 comment="dist-bansari--r-kalilor to dist-bansari"
/routing ospf instance add name=simpul version=2 router-id=10.251.0.234
/routing ospf area add area-id=0.0.0.0 instance=simpul name=area0
/routing ospf interface-template add area=area0 dead-interval=4s hello-interval=1s interfaces=ether1 type=ptp
/ip firewall address-list add address=10.250.0.0/24 list=simpul-noc
/ip firewall filter add action=accept chain=input connection-state=established,related comment="simpul: established"
/ip firewall filter add action=accept chain=input dst-port=22 protocol=tcp src-address-list=simpul-noc comment="simpul: SSH from the NOC"
/ip firewall filter add action=accept chain=input dst-port=161 protocol=udp src-address-list=simpul-noc comment="simpul: SNMP from the NOC"
/ip firewall filter add action=drop chain=input dst-port=22,8291,23,21,80,8728,8729 protocol=tcp comment="simpul: management only from the NOC"
/ip firewall filter add action=drop chain=input dst-port=161 protocol=udp comment="simpul: SNMP only from the NOC"
/ip service set ssh address=10.250.0.0/24
/ip service set telnet disabled=yes
/ip service set ftp disabled=yes
/ip service set www disabled=yes
/ip service set api disabled=yes
/user add name=simpul group=full password=<secret:router-admin>
/system ntp client set enabled=yes servers=ntp1.contohkab.go.id,ntp2.contohkab.go.id
/system logging action add name=simpulnoc remote=10.250.1.92 target=remote
/system logging add action=simpulnoc topics=info
